"""The router's stages for one supergraph, and their caches.

Parse and validate against the API schema (`load_document`, cached per text with the edge's
analyses of the document beside it), the request checks (`check`: the request's shape, the
operation kinds allowed, variables), plan (`load_plan`, cached per document, operation name,
the values of the @skip/@include variables and the override labels) and authorize
(`authorized_plan`). `pipeline.Pipeline.prepare` calls them in order for every transport;
`execution.execute_plan` runs the result. Request errors (the operation cannot run) are
reported before any subgraph is called.
"""

from __future__ import annotations

import contextlib
import random
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.validation.validate import ValidationAbortedError

from .authorization import Authenticator, denied_fields, secured_fields, without_fields
from .budget import BudgetExceeded, CpuBudget
from .clients import SubgraphClient
from .operation import (
    OperationError,
    condition_variables,
    normalize,
    validation_errors_to_dicts,
)
from .plan import Plan
from .planner import QueryPlanner, plan_operation
from .supergraph import Supergraph

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        v = self._d.get(key)
        if v is not None:
            # the budget's worker thread may evict it in between: then it simply stays evicted
            with contextlib.suppress(KeyError):
                self._d.move_to_end(key)
        return v

    def put(self, key: K, value: V) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        if len(self._d) > self.size:
            self._d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)

    def clear(self) -> None:
        self._d.clear()


@dataclass
class GraphQLResponse:
    body: dict[str, Any]
    # True when the request failed before execution (parse, validation, variables)
    request_error: bool = False
    operation_kind: str | None = None
    # set by edge stages: extra response headers, an HTTP status to use, the plan executed
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    plan: Plan | None = None
    # @defer / @stream: the payloads, sent one by one (`body` is unused); see incremental.py
    payloads: AsyncGenerator[dict[str, Any], None] | None = None


@dataclass
class _Document:
    document: DocumentNode | None
    errors: list[dict[str, Any]] = field(default_factory=list)
    # what the edge's analyses found in this document (per analysis and operation name): kept
    # with the document, so they go when it leaves the cache or the supergraph changes
    analyses: dict[Any, Any] = field(default_factory=dict)


# looks at a parsed document before it is validated (may record its analyses in the dict):
# None, or the error refusing it
Precheck = Callable[[DocumentNode, dict[Any, Any]], dict[str, Any] | None]
# a plan per document, operation, values of the @skip/@include variables, override labels
_PlanKey = tuple[str, str | None, tuple[Any, ...], frozenset[str]]


def _condition(value: Any) -> bool | None:
    """A condition variable's value as the plan sees it (anything but a boolean is None)."""
    return value if isinstance(value, bool) else None


class Router:
    def __init__(
        self,
        supergraph: Supergraph,
        clients: Mapping[str, SubgraphClient],
        *,
        override_labels: Iterable[str] = (),
        cache_size: int = 1000,
        authenticator: Authenticator | None = None,
        budget: CpuBudget | None = None,
    ) -> None:
        self.authenticator = authenticator
        # where parsing, validating and planning new documents run (None: inline)
        self.budget = budget
        self.supergraph = supergraph
        self.clients = dict(clients)
        self.override_labels = frozenset(override_labels)
        # progressive override: "percent(N)" labels are in force for N% of requests
        self._percent_labels: list[tuple[str, float]] = []
        for info in supergraph.types.values():
            for entries in info.fields.values():
                for e in entries:
                    label = e.override_label
                    if label and label.startswith("percent(") and label.endswith(")"):
                        try:
                            self._percent_labels.append((label, float(label[8:-1])))
                        except ValueError:
                            continue
        self._planners: dict[frozenset[str], QueryPlanner] = {}
        self.planner = self._planner(self.override_labels)
        self._documents: LRU[str, _Document] = LRU(cache_size)
        self._plans: LRU[_PlanKey, Plan] = LRU(cache_size)

    def _planner(self, labels: frozenset[str]) -> QueryPlanner:
        planner = self._planners.get(labels)
        if planner is None:
            planner = self._planners[labels] = QueryPlanner(self.supergraph, labels)
        return planner

    def labels_for_request(self) -> frozenset[str]:
        if not self._percent_labels:
            return self.override_labels
        rolled = {label for label, pct in self._percent_labels if random.random() * 100 < pct}
        return self.override_labels | rolled

    # ---------------------------------------------------------------- stages
    def document(
        self, query: str, max_tokens: int | None = None, precheck: Precheck | None = None
    ) -> _Document:
        """The parsed and validated document (cached per text). `precheck` looks at the parsed
        document before validation and may refuse it (an error) without validating it."""
        cached = self._documents.get(query)
        if cached is not None:
            return cached
        result = self._compile(query, max_tokens, precheck)
        self._documents.put(query, result)
        return result

    def cached_document(self, query: str) -> _Document | None:
        """The document of a text seen before, if it is still cached."""
        return self._documents.get(query)

    async def load_document(
        self, query: str, max_tokens: int | None = None, precheck: Precheck | None = None
    ) -> _Document:
        """`document`, with the work for a new text done within the CPU budget."""
        cached = self._documents.get(query)
        if cached is not None or self.budget is None:
            return cached or self.document(query, max_tokens, precheck)
        try:
            result = await self.budget.run(
                "validating the document",
                lambda: self._compile(query, max_tokens, precheck),
                lambda late: self._documents.put(query, late),
            )
        except BudgetExceeded as exc:
            return _Document(None, [too_complex(exc)])
        self._documents.put(query, result)
        return result

    def _compile(self, query: str, max_tokens: int | None, precheck: Precheck | None) -> _Document:
        try:
            doc = parse(query, max_tokens=max_tokens)
        except GraphQLError as exc:
            return _Document(None, [_syntax_error(exc)])
        analyses: dict[Any, Any] = {}
        refusal = precheck(doc, analyses) if precheck is not None else None
        if refusal is not None:
            return _Document(None, [refusal])
        errors = validate(self.supergraph.api_schema, doc)
        if not errors:
            return _Document(doc, analyses=analyses)
        if any(isinstance(e, ValidationAbortedError) for e in errors):
            # graphql-core's own budget for the work a document may ask of validation
            return _Document(
                None,
                [
                    {
                        "message": "The document is too complex to validate: it asks for too "
                        "much work comparing its fields and fragments.",
                        "extensions": {"code": "OPERATION_TOO_COMPLEX"},
                    }
                ],
            )
        return _Document(doc, validation_errors_to_dicts(errors), analyses)

    def plan(
        self,
        query: str,
        document: DocumentNode,
        op: OperationDefinitionNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
        labels: frozenset[str] | None = None,
    ) -> Plan:
        key, conditions = self._plan_key(query, document, op, operation_name, variables, labels)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._make_plan(key, document, op, conditions)
        return plan

    async def load_plan(
        self,
        query: str,
        document: DocumentNode,
        op: OperationDefinitionNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
        labels: frozenset[str] | None = None,
    ) -> Plan:
        """`plan`, with the planning of a new operation done within the CPU budget (raises
        `BudgetExceeded`)."""
        key, conditions = self._plan_key(query, document, op, operation_name, variables, labels)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        if self.budget is None:
            return self._make_plan(key, document, op, conditions)
        return await self.budget.run(
            "planning the operation", lambda: self._make_plan(key, document, op, conditions)
        )

    def _plan_key(
        self,
        query: str,
        document: DocumentNode,
        op: OperationDefinitionNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
        labels: frozenset[str] | None,
    ) -> tuple[_PlanKey, tuple[str, ...]]:
        labels = self.override_labels if labels is None else labels
        conditions = condition_variables(op, document)
        # True, False or None (omitted or null): @skip/@include treat None as false, @defer's
        # `if:` (Boolean! = true) as its default
        cond_values = tuple(_condition(variables.get(v)) for v in conditions)
        return (query, operation_name, cond_values, labels), conditions

    def _make_plan(
        self,
        key: _PlanKey,
        document: DocumentNode,
        op: OperationDefinitionNode,
        conditions: tuple[str, ...],
    ) -> Plan:
        """Plan and cache (also when the caller has stopped waiting: the next one will not)."""
        selections = normalize(op, document, dict(zip(conditions, key[2], strict=True)))
        plan = plan_operation(self._planner(key[3]), op, selections)
        self._plans.put(key, plan)
        return plan

    async def authorized_plan(
        self,
        plan: Plan,
        op: OperationDefinitionNode,
        headers: Mapping[str, str],
        labels: frozenset[str],
    ) -> Plan:
        """The plan without the fields the caller may not see (see authorization.py)."""
        if plan.secured is None:
            plan.secured = secured_fields(self.supergraph, plan.selections, plan.root_type)
        if not plan.secured or self.authenticator is None:
            return plan
        denied = denied_fields(plan.secured, await self.authenticator(headers))
        if not denied:
            return plan
        key = frozenset(denied.items())
        variant = plan.variants.get(key)
        if variant is None:
            allowed = without_fields(self.supergraph, plan.selections, plan.root_type, denied)
            variant = plan_operation(self._planner(labels), op, allowed)
            variant.selections = plan.selections  # the response keeps the client's shape
            variant.denied = denied
            variant.secured = plan.secured
            plan.variants[key] = variant
        return variant

    # ---------------------------------------------------------------- request checks
    def check(
        self,
        query: Any,
        variables: Any,
        operation_name: Any,
        document: DocumentNode | None,
        operation: OperationDefinitionNode | OperationError | None,
        allowed_operations: frozenset[str] | None = None,
        *,
        coerce: bool = True,
    ) -> tuple[OperationDefinitionNode, dict[str, Any], dict[str, Any]] | GraphQLResponse:
        """The request checks that follow parsing: the request's shape, the selected
        operation (`operation`: what `select_operation` gave for `document`), the operation
        kinds the transport allows, and the variables. Returns the operation, the variables
        as the client sent them with the operation's defaults added (what subgraphs get) and
        the coerced values; or the request error. `coerce=False`: no variables to check (a
        plan printed without a request)."""
        if not isinstance(query, str) or not query.strip():
            return request_error("Must provide query string.", "BAD_REQUEST")
        if variables is not None and not isinstance(variables, Mapping):
            return request_error("Variables must be provided as a JSON object.", "BAD_REQUEST")
        if operation_name is not None and not isinstance(operation_name, str):
            return request_error("operationName must be a string.", "BAD_REQUEST")
        if isinstance(operation, OperationError):
            return request_error(str(operation), operation.code)
        if document is None or operation is None:
            return request_error("Must provide query string.", "BAD_REQUEST")
        op = operation
        kind = op.operation.value
        if allowed_operations is not None and kind not in allowed_operations:
            return GraphQLResponse(
                {
                    "errors": [
                        {
                            "message": f"Can only perform a {kind} operation from a POST request.",
                            "extensions": {"code": "METHOD_NOT_ALLOWED"},
                        }
                    ]
                },
                request_error=True,
                operation_kind=kind,
            )
        raw_variables = dict(variables or {})
        if not coerce:
            return op, raw_variables, {}
        coerced = get_variable_values(
            self.supergraph.api_schema, op.variable_definitions or (), raw_variables
        )
        if isinstance(coerced, list):
            return GraphQLResponse(
                {"errors": [_with_code(e.formatted, "BAD_USER_INPUT") for e in coerced]},
                request_error=True,
                operation_kind=kind,
            )
        values: dict[str, Any] = coerced.coerced  # graphql-core 3.3 keeps the sources beside
        for name, value in values.items():
            raw_variables.setdefault(name, value)
        return op, raw_variables, values

    async def aclose(self) -> None:
        for c in self.clients.values():
            await c.aclose()


def too_complex(exc: BudgetExceeded) -> dict[str, Any]:
    return {
        "message": f"The operation is too complex: {exc}. Send a smaller operation.",
        "extensions": {"code": "OPERATION_TOO_COMPLEX", "budgetSeconds": exc.seconds},
    }


def _syntax_error(exc: GraphQLError) -> dict[str, Any]:
    return _with_code(exc.formatted, "GRAPHQL_PARSE_FAILED")


def _with_code(formatted: Mapping[str, Any], code: str) -> dict[str, Any]:
    d = dict(formatted)
    ext = dict(d.get("extensions") or {})
    ext.setdefault("code", code)
    d["extensions"] = ext
    return d


def request_error(message: str, code: str) -> GraphQLResponse:
    return GraphQLResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, request_error=True
    )
