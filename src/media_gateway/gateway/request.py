"""What a transport hands the request path (`GraphQLRequest`) and what `Pipeline.prepare`
hands the execution stage (`PreparedOperation`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, OperationDefinitionNode

from .edge.pipeline import Admission, Batch
from .plan import Plan
from .router import Router


@dataclass
class GraphQLRequest:
    """One GraphQL request as any transport received it.

    `params`: the request's members (query, operationName, variables, extensions, a
    persisted document id); `headers`: the caller's headers (who is calling: authorization,
    rate-limit key); `forwarded`: the headers the subgraphs receive."""

    params: Mapping[str, Any]
    headers: Mapping[str, str]
    forwarded: Mapping[str, str]
    address: str | None = None
    method: str = "POST"
    # operation kinds the transport may run (a GET: queries only); None: any
    allowed_operations: frozenset[str] | None = None
    # whether the transport can stream a subscription's events
    subscriptions: bool = False
    # whether the transport can deliver @defer / @stream payloads one by one
    incremental: bool = False
    # the plan (and fetch counts) in the response's extensions
    expose_plan: bool = False
    # the batched HTTP request this operation belongs to (its limits count them together)
    batch: Batch | None = None
    # plan without a request to run: no variables to check, no override rolled per request
    plan_only: bool = False
    # what the edge admitted, once it has (its id and name go to the request log)
    admission: Admission | None = field(default=None, compare=False)


@dataclass
class PreparedOperation:
    """A request ready to execute: its document, operation, variables and (authorized)
    plan, on the router that prepared it."""

    request: GraphQLRequest
    router: Router
    admission: Admission
    query: str
    document: DocumentNode
    operation: OperationDefinitionNode
    # the variables as sent with the operation's defaults added (what subgraphs get)
    variables: dict[str, Any]
    # the coerced values
    values: dict[str, Any]
    plan: Plan

    @property
    def kind(self) -> str:
        return self.operation.operation.value

    @property
    def operation_name(self) -> str | None:
        name = self.request.params.get("operationName")
        return name if isinstance(name, str) else None
