"""The router's streaming endpoints: WebSocket, SSE and multipart HTTP on ``/graphql``.

``StreamingEndpoints`` bundles the subscription hub with the transports so that the HTTP
server only has to route to it: WebSocket upgrades, and requests whose ``Accept`` header
asks for ``text/event-stream`` or Apollo's ``multipart/mixed`` subscriptions. Every
operation a transport receives goes through the same edge stages as a plain HTTP request
(persisted documents, limits, cost, rate limits) before it runs or subscribes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from graphql import OperationType
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from .operation import OperationError, select_operation
from .router import GraphQLResponse, Router
from .subscriptions import (
    Answer,
    ClientStream,
    Start,
    SubscriptionHub,
    SubscriptionObserver,
    error_body,
)
from .transports_http import serve_stream, streaming_kind
from .transports_ws import serve_websocket

if TYPE_CHECKING:
    from .edge.pipeline import Edge


def _is_subscription(router: Router, query: Any, operation_name: Any) -> bool:
    """Whether the request is a subscription (false when the router will refuse it)."""
    if not isinstance(query, str) or not query.strip():
        return False
    doc = router.document(query)
    if doc.document is None or doc.errors:
        return False
    try:
        op = select_operation(
            doc.document, operation_name if isinstance(operation_name, str) else None
        )
    except OperationError:
        return False
    return op.operation == OperationType.SUBSCRIPTION


class StreamingEndpoints:
    def __init__(
        self,
        router: Callable[[], Router | None],
        forwarded_headers: Iterable[str],
        observer: SubscriptionObserver | None = None,
        edge: Edge | None = None,
    ) -> None:
        self._router = router
        self.forwarded_headers = tuple(forwarded_headers)
        self.hub = SubscriptionHub(router, observer)
        self.edge = edge

    def headers(self, connection: HTTPConnection) -> dict[str, str]:
        headers = {
            h: connection.headers[h] for h in self.forwarded_headers if h in connection.headers
        }
        headers.setdefault("x-request-id", uuid.uuid4().hex)
        return headers

    def starter(self, connection: HTTPConnection) -> Start:
        """How the transports of one connection start each operation they receive."""
        address = connection.client.host if connection.client else None

        async def start(
            params: Mapping[str, Any], headers: Mapping[str, str]
        ) -> ClientStream | Answer:
            return await self.start(params, headers, address)

        return start

    async def start(
        self, params: Mapping[str, Any], headers: Mapping[str, str], address: str | None
    ) -> ClientStream | Answer:
        """Admit one operation at the edge, then run it (a query or mutation: one answer)
        or open its subscription."""
        router = self._router()
        if router is None:
            return Answer(error_body("No supergraph loaded.", "NOT_READY"), error=True)
        query, name, variables = (
            params.get("query"),
            params.get("operationName"),
            params.get("variables"),
        )
        if self.edge is None:
            if _is_subscription(router, query, name):
                return _opened(await self.hub.open(query, variables, name, headers))
            result = await router.execute(query, variables, name, headers)
            return Answer(result.body, result.request_error)
        from .edge.pipeline import RequestInfo

        caller = RequestInfo(headers, address)
        admitted = await self.edge.admit(router, params, caller)
        if isinstance(admitted, GraphQLResponse):
            return Answer(admitted.body, error=True)
        if _is_subscription(router, admitted.query, name):
            return _opened(await self.hub.open(admitted.query, variables, name, headers))
        result = await self.edge.handle(router, params, caller, headers, admitted=admitted)
        return Answer(result.body, result.request_error)

    def wants_stream(self, request: Request) -> bool:
        return streaming_kind(request) is not None

    async def http(self, request: Request) -> Response:
        kind = streaming_kind(request) or "sse"
        return await serve_stream(request, kind, self.starter(request), self.headers(request))

    async def websocket(self, websocket: WebSocket) -> None:
        await serve_websocket(
            websocket, self.starter(websocket), self.headers(websocket), self.credentials_ok
        )

    async def credentials_ok(self, headers: Mapping[str, str]) -> bool:
        """False when the connection presents credentials the router's authenticator
        refuses (no credentials at all are fine: the caller is anonymous, as over HTTP)."""
        router = self._router()
        if router is None or router.authenticator is None:
            return True
        return not (await router.authenticator(headers)).rejected

    async def close(self) -> None:
        await self.hub.close()


def _opened(opened: ClientStream | dict[str, Any]) -> ClientStream | Answer:
    return opened if isinstance(opened, ClientStream) else Answer(opened, error=True)
