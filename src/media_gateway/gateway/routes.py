"""The gateway's HTTP routes: GraphQL over HTTP on `/graphql` (POST, GET, batches; streams
and WebSocket handed to `streaming.py`), `/health`, `/ready`, the edge's operator endpoints
and GraphiQL.

A route turns what it received into a `pipeline.GraphQLRequest`, runs it through the
request path and hands the result to `negotiation.py`: nothing here parses, plans or
executes an operation.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from . import deadline
from .batching import batch_refusal, run_batch
from .edge.pipeline import Batch
from .edge.routes import edge_routes
from .negotiation import (
    JSON,
    accepts_incremental,
    bad_request,
    json_response,
    media_type,
    respond,
    respond_batch,
)
from .pipeline import GraphQLRequest, not_ready
from .router import GraphQLResponse
from .state import GatewayState, readiness
from .streaming import StreamingEndpoints
from .transports_http import headers_of, query_string_params

log = logging.getLogger("media_gateway.gateway")

PLAN_HEADER = "x-expose-query-plan"
MAX_BODY_BYTES = 2 * 1024 * 1024
# client headers forwarded to every subgraph
FORWARDED_HEADERS = (
    "authorization",
    "x-api-key",
    "x-request-id",
    "traceparent",
    "tracestate",
    "accept-language",
)


def forwarded_header_names(state: GatewayState) -> tuple[str, ...]:
    """The client headers subgraphs receive: the usual ones and those the edge's header
    rules and client identification name."""
    return tuple(sorted(set(FORWARDED_HEADERS) | state.edge.forwarded_header_names()))


class GraphQLOverHTTP:
    """`/graphql` over plain HTTP: one request or a batch in, JSON out."""

    def __init__(self, state: GatewayState, streaming: StreamingEndpoints) -> None:
        self.state = state
        self.pipeline = state.pipeline
        self.edge = state.edge
        self.streaming = streaming
        self.forwarded_names = forwarded_header_names(state)
        self.trusted_proxies = state.config.edge.trusted_proxies

    def forwarded(self, request: Request) -> dict[str, str]:
        received = headers_of(request)
        headers = {h: received[h] for h in self.forwarded_names if h in received}
        if "x-request-id" not in headers:
            headers["x-request-id"] = uuid.uuid4().hex
        # subgraphs learn the client's address from the gateway, never from the client: the
        # peer, or the client a trusted proxy names (subgraphs behind the gateway count it
        # as one of their trusted proxies)
        headers.pop("x-forwarded-for", None)
        peer = request.client.host if request.client else None
        address = self.trusted_proxies.client_address(peer, received)
        if address:
            headers["x-forwarded-for"] = address
        return headers

    async def run_one(
        self,
        params: Any,
        request: Request,
        *,
        get: bool = False,
        batch: Batch | None = None,
        incremental: bool = False,
    ) -> GraphQLResponse:
        if self.pipeline.router() is None:
            return not_ready()
        if not isinstance(params, dict):
            return GraphQLResponse(
                {
                    "errors": [
                        {
                            "message": "A GraphQL request must be a JSON object.",
                            "extensions": {"code": "BAD_REQUEST"},
                        }
                    ]
                },
                request_error=True,
            )
        headers = headers_of(request)
        return await self.pipeline.handle(
            GraphQLRequest(
                params,
                headers,
                self.forwarded(request),
                address=request.client.host if request.client else None,
                method=request.method,
                allowed_operations=frozenset({"query"}) if get else None,
                expose_plan=headers.get(PLAN_HEADER, "").lower() in ("1", "true", "yes"),
                batch=batch,
                incremental=incremental,
            )
        )

    def refusal(self, request: Request) -> Response | None:
        """The edge's refusal before the body is read (CSRF, declared body size)."""
        refused = self.edge.http_refusal(headers_of(request))
        if refused is None:
            return None
        return json_response(refused[1], refused[0], media_type(request) or JSON)

    async def post(self, request: Request) -> Response:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        if self.streaming.wants_stream(request):
            return await self.streaming.http(request)
        incremental = accepts_incremental(request)
        media = media_type(request) or (JSON if incremental else None)
        if media is None:
            return bad_request("Accept header allows no supported media type.", JSON, 406)
        content_type = headers_of(request).get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (JSON, "application/graphql+json"):
            return bad_request("Content-Type must be application/json.", media, 415)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return bad_request("Request body is too large.", media, 413)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return bad_request("Request body is not valid JSON.", media)
        if isinstance(payload, list):
            refusal = batch_refusal(payload, self.edge.config.limits)
            if refusal is not None:
                if refusal[0] == "empty":
                    return bad_request("A batch must contain at least one operation.", media)
                return json_response(refusal[1], 400, media)

            async def one(params: Any, batch: Batch) -> GraphQLResponse:
                return await self.run_one(params, request, batch=batch)

            with deadline.within(self.edge.config.request_timeout):
                results = await run_batch(payload, one)
            return respond_batch(results, media)
        return respond(await self.run_one(payload, request, incremental=incremental), media)

    async def get(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "query" not in request.query_params and "text/html" in accept:
            if not self.state.config.graphiql:
                return bad_request("GraphiQL is disabled.", JSON, 404)
            from .graphiql import graphiql_html

            return HTMLResponse(
                graphiql_html(
                    "/graphql", "/graphql", default_query=self.state.config.graphiql_query
                )
            )
        refused = self.refusal(request)
        if refused is not None:
            return refused
        if self.streaming.wants_stream(request):
            return await self.streaming.http(request)
        incremental = accepts_incremental(request)
        media = media_type(request) or (JSON if incremental else None)
        if media is None:
            return bad_request("Accept header allows no supported media type.", JSON, 406)
        params = query_string_params(request.query_params)
        if params is None:
            return bad_request("variables is not valid JSON.", media)
        if self.edge.config.request_extensions:
            raw_ext = request.query_params.get("extensions")
            if raw_ext:
                try:
                    params["extensions"] = orjson.loads(raw_ext)
                except orjson.JSONDecodeError:
                    return bad_request("extensions is not valid JSON.", media)
            for key in ("documentId", "doc_id", "id"):
                if key in request.query_params:
                    params[key] = request.query_params[key]
        return respond(
            await self.run_one(params, request, get=True, incremental=incremental), media, get=True
        )


def gateway_routes(
    state: GatewayState, streaming: StreamingEndpoints, http: GraphQLOverHTTP
) -> list[BaseRoute]:

    async def health(request: Request) -> Response:
        return json_response({"status": "pass"})

    async def ready(request: Request) -> Response:
        status, body = readiness(state)
        return json_response(body, status)

    routes: list[BaseRoute] = [
        Route("/graphql", http.post, methods=["POST"]),
        Route("/graphql", http.get, methods=["GET"]),
        WebSocketRoute("/graphql", streaming.websocket),
        Route("/", http.post, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        *edge_routes(state.edge),
    ]
    if state.config.graphiql:
        with contextlib.suppress(ImportError):
            from .graphiql import graphiql_routes

            routes.extend(graphiql_routes())
    return routes


async def internal_error(request: Request, exc: Exception) -> Response:
    """The last line of defence: a bug answers a plain GraphQL error, never a traceback; the
    log keeps the details under the request's id."""
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    log.error(
        "request failed: %s",
        exc.__class__.__name__,
        exc_info=exc,
        extra={"request_id": request_id, "path": request.url.path},
    )
    return json_response(
        {
            "errors": [
                {
                    "message": "Internal server error.",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
                }
            ]
        },
        500,
    )
