"""What the MCP server calls: the gateway's request path, like any other client.

`PipelineBackend` hands each operation to `Pipeline.handle` as a `GraphQLRequest` carrying
the caller's own headers, so authentication, `@requiresScopes`, parental controls, cost and
rate limits apply to an agent as to any client. Its requests say who they are
(`x-client-name: mcp`) for the metrics, traces and logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import DocumentNode, GraphQLSchema

from ..edge.persisted import PersistedOperation
from ..pipeline import GraphQLRequest, Pipeline
from ..supergraph import Supergraph
from .config import CLIENT_NAME

# the client headers an operation's subgraph requests receive (as over HTTP)
FORWARDED = (
    "authorization",
    "x-api-key",
    "x-request-id",
    "traceparent",
    "tracestate",
    "accept-language",
)


@dataclass
class Compiled:
    document: DocumentNode | None
    errors: list[str]


class Backend(Protocol):
    def api_schema(self) -> GraphQLSchema | None: ...

    def supergraph(self) -> Supergraph | None: ...

    def generation(self) -> object:
        """Changes whenever the API schema does (a supergraph reload)."""
        ...

    def compile(self, text: str) -> Compiled: ...

    def manifest_operations(self) -> list[PersistedOperation]: ...

    async def execute(
        self, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]: ...


def agent_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's headers, lower-cased, marked as agent traffic."""
    out = {k.lower(): v for k, v in headers.items()}
    out["x-client-name"] = CLIENT_NAME
    out.setdefault("apollographql-client-name", CLIENT_NAME)
    out.setdefault("x-request-id", uuid.uuid4().hex)
    return out


class PipelineBackend:
    """The gateway in this process: its pipeline, its current router's API schema."""

    def __init__(
        self,
        pipeline: Pipeline,
        forwarded: tuple[str, ...] = FORWARDED,
        manifests: Callable[[], list[PersistedOperation]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.forwarded = tuple({*forwarded, "x-client-name"})
        self._manifests = manifests

    def api_schema(self) -> GraphQLSchema | None:
        router = self.pipeline.router()
        return router.supergraph.api_schema if router is not None else None

    def supergraph(self) -> Supergraph | None:
        router = self.pipeline.router()
        return router.supergraph if router is not None else None

    def generation(self) -> object:
        return self.pipeline.router()

    def compile(self, text: str) -> Compiled:
        router = self.pipeline.router()
        if router is None:
            return Compiled(None, ["No supergraph loaded."])
        # the router's cached parse and validation against its API schema
        compiled = router.document(text)
        return Compiled(compiled.document, [str(e.get("message")) for e in compiled.errors])

    def manifest_operations(self) -> list[PersistedOperation]:
        if self._manifests is not None:
            return self._manifests()
        manifest = getattr(self.pipeline.edge, "manifest", None)
        operations = getattr(manifest, "operations", None)
        return list(operations.values()) if isinstance(operations, dict) else []

    async def execute(
        self, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        caller = agent_headers(headers)
        forwarded = {h: caller[h] for h in self.forwarded if h in caller}
        response = await self.pipeline.handle(GraphQLRequest(params, caller, forwarded))
        return response.body
