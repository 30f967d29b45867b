"""The request path: one `prepare` and one `execute` for every transport.

In the shape of a service stack (router -> supergraph -> execution -> subgraph):

- the transports (`routes.py` for HTTP and batching, `streaming.py` for WebSocket, SSE and
  multipart, the `plan` command, an in-process caller) turn what they receive into a
  `GraphQLRequest` and hand it to a `Pipeline`; none of them parses, plans or executes;
- `Pipeline.prepare` is the supergraph stage: the edge's admission (APQ / persisted
  documents, prescan, parse and validate, select the operation, limits, cost, rate limits),
  the request checks (the request's shape, the operation kinds the transport allows,
  variables), plan and authorize. It returns a `PreparedOperation` or the response refusing
  the request;
- `Pipeline.execute` is the execution stage: the response cache layer around
  `execution.execute_plan`, which runs the plan's subgraph fetches (each through the edge's
  subgraph layer) and shapes the response;
- `Pipeline.handle` is both under the edge's telemetry layer (deadline, span, metrics, log);
  `Pipeline.start` is the same for a transport that can stream: a subscription opens on
  the subscription hub, anything else is answered once.

Every edge layer is always present; `EdgeConfig.off()` configures each one to do nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from graphql import OperationDefinitionNode, OperationType

from .budget import BudgetExceeded
from .clients import SubgraphClient
from .edge.config import EdgeConfig
from .edge.pipeline import Admission, Edge, RequestInfo
from .execution import execute_incremental, execute_plan
from .incremental import IncrementalStream, delivery
from .planner import PlanningError
from .request import GraphQLRequest, PreparedOperation
from .router import GraphQLResponse, Router, request_error, too_complex
from .subscriptions import (
    Answer,
    ClientStream,
    PayloadStream,
    SubscriptionHub,
    SubscriptionObserver,
    TokenExpired,
    error_body,
    token_expiry,
)
from .supergraph import Supergraph

__all__ = [
    "Answer",
    "ClientStream",
    "GraphQLRequest",
    "GraphQLResponse",
    "Pipeline",
    "PreparedOperation",
]


def not_ready() -> GraphQLResponse:
    """The response while no supergraph is loaded."""
    return GraphQLResponse(error_body("No supergraph loaded.", "NOT_READY"), request_error=True)


class Pipeline:
    """The request path of one gateway: the current router (`router()`: None until a
    supergraph is loaded), the edge's layers around it, and the subscription hub."""

    def __init__(
        self,
        router: Callable[[], Router | None],
        edge: Edge,
        observer: SubscriptionObserver | None = None,
    ) -> None:
        self._router = router
        self.edge = edge
        self.hub = SubscriptionHub(router, observer)

    @classmethod
    def for_router(cls, router: Router, edge: EdgeConfig | None = None) -> Pipeline:
        """A pipeline in front of one router (every edge stage off unless `edge` says)."""
        return cls(lambda: router, Edge(edge if edge is not None else EdgeConfig.off()))

    @classmethod
    def for_supergraph(
        cls,
        supergraph: Supergraph,
        clients: Mapping[str, SubgraphClient] | None = None,
        *,
        override_labels: Iterable[str] = (),
        edge: EdgeConfig | None = None,
    ) -> Pipeline:
        """A pipeline in front of a new router for `supergraph` (no clients: it plans, and
        fails every fetch)."""
        return cls.for_router(
            Router(supergraph, clients or {}, override_labels=override_labels), edge
        )

    def router(self) -> Router | None:
        return self._router()

    # ------------------------------------------------------------------ supergraph stage
    async def prepare(self, request: GraphQLRequest) -> PreparedOperation | GraphQLResponse:
        """Admit, check, plan and authorize one request; or the response refusing it."""
        router = self._router()
        if router is None:
            return not_ready()
        admitted = await self._admit(router, request)
        if isinstance(admitted, GraphQLResponse):
            return admitted
        return await self._ready(router, request, admitted)

    async def _admit(self, router: Router, request: GraphQLRequest) -> Admission | GraphQLResponse:
        admitted = await self.edge.admit(
            router,
            request.params,
            RequestInfo(request.headers, request.address, request.method),
            request.batch,
        )
        if isinstance(admitted, Admission):
            request.admission = admitted
        return admitted

    async def _ready(
        self, router: Router, request: GraphQLRequest, admitted: Admission
    ) -> PreparedOperation | GraphQLResponse:
        """The request checks, then plan and authorize (after the edge admitted it)."""
        params = request.params
        operation_name = params.get("operationName")
        checked = router.check(
            admitted.query,
            params.get("variables"),
            operation_name,
            admitted.document,
            admitted.op,
            request.allowed_operations,
            coerce=not request.plan_only,
        )
        if isinstance(checked, GraphQLResponse):
            return self.edge.finished(checked, admitted)
        op, variables, values = checked
        query, document = admitted.query, admitted.document
        assert isinstance(query, str) and document is not None  # check() refused anything else
        kind = op.operation.value
        if kind == OperationType.SUBSCRIPTION.value and not request.subscriptions:
            return self.edge.finished(
                request_error(
                    "Subscriptions are served over WebSocket, SSE or multipart HTTP.",
                    "BAD_REQUEST",
                ),
                admitted,
            )
        try:
            # a printed plan rolls no percentage of a progressive override
            labels = router.override_labels if request.plan_only else router.labels_for_request()
            if kind == OperationType.SUBSCRIPTION.value:
                # planned at once, as the subscription opens (a subscription is one root
                # field: small to plan), so that it is open by the time it is answered
                plan = router.plan(query, document, op, operation_name, values, labels)
            else:
                plan = await router.load_plan(query, document, op, operation_name, values, labels)
            if router.authenticator is not None and not request.plan_only:
                plan = await router.authorized_plan(plan, op, request.headers, labels)
        except PlanningError as exc:
            return self.edge.finished(
                GraphQLResponse(error_body(str(exc), "QUERY_PLANNING_FAILED"), operation_kind=kind),
                admitted,
            )
        except BudgetExceeded as exc:
            return self.edge.finished(
                GraphQLResponse({"errors": [too_complex(exc)]}, operation_kind=kind), admitted
            )
        return PreparedOperation(
            request, router, admitted, query, document, op, variables, values, plan
        )

    # ------------------------------------------------------------------ execution stage
    async def execute(self, prepared: PreparedOperation) -> GraphQLResponse:
        """Run a prepared query or mutation (through the response cache layer; one that
        defers or streams is delivered incrementally, never cached)."""
        request = prepared.request
        incremental = delivery(prepared.plan, prepared.router.supergraph)
        if incremental.incremental(prepared.values):
            if not request.incremental:
                refused = GraphQLResponse(
                    incremental.refusal(), operation_kind=prepared.kind, status=406
                )
                return self.edge.finished(refused, prepared.admission)
            return GraphQLResponse(
                {},
                operation_kind=prepared.kind,
                plan=prepared.plan,
                payloads=execute_incremental(
                    prepared.router,
                    prepared.plan,
                    prepared.variables,
                    prepared.values,
                    request.forwarded,
                    document=prepared.document,
                    operation=prepared.operation,
                    expose_plan=request.expose_plan,
                ),
            )

        async def run() -> GraphQLResponse:
            body = await execute_plan(
                prepared.router,
                prepared.plan,
                prepared.variables,
                request.forwarded,
                document=prepared.document,
                operation=prepared.operation,
                expose_plan=request.expose_plan,
            )
            return GraphQLResponse(body, operation_kind=prepared.kind, plan=prepared.plan)

        return await self.edge.cached(
            prepared.router, prepared.admission, request.params, request.expose_plan, run
        )

    # ------------------------------------------------------------------ whole requests
    async def handle(self, request: GraphQLRequest) -> GraphQLResponse:
        """Prepare and execute one request under the edge's telemetry layer."""
        router = self._router()
        if router is None:
            return not_ready()

        async def call() -> GraphQLResponse:
            admitted = await self._admit(router, request)
            if isinstance(admitted, GraphQLResponse):
                return admitted
            return await self._run(router, request, admitted)

        return await self.edge.observed(
            request.params, self._info(request), call, lambda: request.admission
        )

    async def _run(
        self, router: Router, request: GraphQLRequest, admitted: Admission
    ) -> GraphQLResponse:
        prepared = await self._ready(router, request, admitted)
        if isinstance(prepared, GraphQLResponse):
            return prepared
        return await self.execute(prepared)

    async def start(self, request: GraphQLRequest) -> PayloadStream | Answer:
        """One operation from a transport that can stream: a subscription opens (a stream
        of payloads), anything else is answered once. Raises `TokenExpired` when the
        caller's access token has expired before a subscription opens."""
        request.subscriptions = True
        request.incremental = True
        router = self._router()
        if router is None:
            return Answer(error_body("No supergraph loaded.", "NOT_READY"), error=True)
        admitted = await self._admit(router, request)
        if isinstance(admitted, GraphQLResponse):
            return Answer(admitted.body, error=True)
        op = admitted.op
        if (
            isinstance(op, OperationDefinitionNode)
            and op.operation == OperationType.SUBSCRIPTION
            and admitted.checked
        ):
            expires_at = token_expiry(request.headers)
            if expires_at is not None and expires_at <= time.time():
                raise TokenExpired
            prepared = await self._ready(router, request, admitted)
            if isinstance(prepared, GraphQLResponse):
                return Answer(prepared.body, error=True)
            opened = await self.hub.open(prepared, expires_at)
            return opened if isinstance(opened, ClientStream) else Answer(opened, error=True)
        result = await self.edge.observed(
            request.params,
            self._info(request),
            lambda: self._run(router, request, admitted),
            lambda: request.admission,
        )
        if result.payloads is not None:
            return IncrementalStream(result.payloads)
        return Answer(result.body, result.request_error)

    @staticmethod
    def _info(request: GraphQLRequest) -> RequestInfo:
        return RequestInfo(request.headers, request.address, request.method)

    async def aclose(self) -> None:
        await self.hub.close()
