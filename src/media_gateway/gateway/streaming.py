"""The router's streaming endpoints: WebSocket, SSE and multipart HTTP on ``/graphql``.

``StreamingEndpoints`` bundles the subscription hub with the transports so that the HTTP
server only has to route to it: WebSocket upgrades, and requests whose ``Accept`` header
asks for ``text/event-stream`` or Apollo's ``multipart/mixed`` subscriptions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from .router import Router
from .subscriptions import SubscriptionHub, SubscriptionObserver
from .transports_http import serve_stream, streaming_kind
from .transports_ws import serve_websocket


class StreamingEndpoints:
    def __init__(
        self,
        router: Callable[[], Router | None],
        forwarded_headers: Iterable[str],
        observer: SubscriptionObserver | None = None,
    ) -> None:
        self._router = router
        self.forwarded_headers = tuple(forwarded_headers)
        self.hub = SubscriptionHub(router, observer)

    def headers(self, connection: HTTPConnection) -> dict[str, str]:
        headers = {
            h: connection.headers[h] for h in self.forwarded_headers if h in connection.headers
        }
        headers.setdefault("x-request-id", uuid.uuid4().hex)
        return headers

    async def execute(
        self, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> dict[str, Any]:
        """A query or mutation sent over a streaming transport: one result."""
        router = self._router()
        if router is None:
            return {
                "errors": [
                    {"message": "No supergraph loaded.", "extensions": {"code": "NOT_READY"}}
                ]
            }
        result = await router.execute(
            params.get("query"), params.get("variables"), params.get("operationName"), headers
        )
        return result.body

    def wants_stream(self, request: Request) -> bool:
        return streaming_kind(request) is not None

    async def http(self, request: Request) -> Response:
        kind = streaming_kind(request) or "sse"
        return await serve_stream(request, kind, self.hub, self.execute, self.headers(request))

    async def websocket(self, websocket: WebSocket) -> None:
        await serve_websocket(websocket, self.hub, self.execute, self.headers(websocket))

    async def close(self) -> None:
        await self.hub.close()
