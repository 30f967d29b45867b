"""The router's streaming endpoints: WebSocket, SSE and multipart HTTP on ``/graphql``.

``StreamingEndpoints`` bundles the subscription hub with the transports so that the HTTP
server only has to route to it: WebSocket upgrades, and requests whose ``Accept`` header
asks for ``text/event-stream`` or Apollo's ``multipart/mixed`` subscriptions. Every
operation a transport receives goes through the request path (`pipeline.Pipeline.start`),
as a plain HTTP request does, before it runs or subscribes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from .pipeline import GraphQLRequest, Pipeline
from .subscriptions import Answer, PayloadStream, Start, SubscriptionHub
from .transports_http import serve_stream, streaming_kind
from .transports_ws import serve_websocket


class StreamingEndpoints:
    def __init__(self, pipeline: Pipeline, forwarded_headers: Iterable[str]) -> None:
        self.pipeline = pipeline
        self.forwarded_headers = tuple(forwarded_headers)

    @property
    def hub(self) -> SubscriptionHub:
        return self.pipeline.hub

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
        ) -> PayloadStream | Answer:
            return await self.start(params, headers, address)

        return start

    async def start(
        self, params: Mapping[str, Any], headers: Mapping[str, str], address: str | None
    ) -> PayloadStream | Answer:
        """One operation through the request path: a query or mutation gets one answer, a
        subscription opens."""
        return await self.pipeline.start(GraphQLRequest(params, headers, headers, address))

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
        router = self.pipeline.router()
        if router is None or router.authenticator is None:
            return True
        return not (await router.authenticator(headers)).rejected

    async def close(self) -> None:
        await self.pipeline.aclose()
