"""GraphQL over HTTP for the router (Starlette): the app, put together.

POST with JSON (a single request or a batch array); GET for queries only; responses as
`application/graphql-response+json` or `application/json` chosen by the Accept header, with
the status codes the GraphQL-over-HTTP specification prescribes; WebSocket, SSE and
multipart streams; GraphiQL for browsers; `/health` for liveness (the process answers) and
`/ready` for readiness (a supergraph is loaded; subgraphs whose circuit breaker is open are
listed as degraded); the supergraph file watched and swapped without dropping requests.

The pieces: `state.py` (configuration, the current router, reloads), `pipeline.py` (the
request path every transport uses), `routes.py` (the HTTP routes), `negotiation.py` (media
types and responses), `batching.py`, `streaming.py` (WebSocket, SSE, multipart), `cors.py`
and `lifespan.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ExceptionHandler, Lifespan, Receive, Scope, Send

from .authorization import Authenticator
from .clients import SubgraphClient
from .cors import add_cors
from .edge.config import EdgeConfig
from .forwarding import forwarding_routes
from .lifespan import lifespan
from .mcp.config import McpConfig
from .routes import (
    FORWARDED_HEADERS,
    MAX_BODY_BYTES,
    PLAN_HEADER,
    GraphQLOverHTTP,
    forwarded_header_names,
    gateway_routes,
    internal_error,
)
from .state import GatewayConfig, GatewayState, readiness, subgraph_url
from .streaming import StreamingEndpoints

__all__ = [
    "FORWARDED_HEADERS",
    "MAX_BODY_BYTES",
    "PLAN_HEADER",
    "GatewayConfig",
    "GatewayState",
    "create_app",
    "create_gateway_app",
    "readiness",
    "subgraph_url",
]


def create_gateway_app(config: GatewayConfig, mcp: McpConfig | None = None) -> Starlette:
    """The gateway app; `mcp` configures its MCP endpoint (default: from the environment)."""
    state = GatewayState(config)
    if config.supergraph_sdl is not None or config.supergraph_path is not None:
        state.load_initial()
    streaming = StreamingEndpoints(state.pipeline, forwarded_header_names(state))
    http = GraphQLOverHTTP(state, streaming)
    routes = gateway_routes(state, streaming, http)
    app_lifespan = lifespan(state, streaming)
    mcp = mcp if mcp is not None else McpConfig.from_env()
    if mcp.enabled:
        # the MCP SDK is imported only when the endpoint is served (it is most of the
        # router's memory after start-up)
        from .mcp.app import mcp_endpoint
        from .mcp.http import with_endpoint

        endpoint = mcp_endpoint(state, mcp)
        routes.extend(endpoint.routes())
        app_lifespan = with_endpoint(app_lifespan, endpoint)

    # configured paths handed on to an upstream (after the router's own routes)
    routes.extend(forwarding_routes(config.forwards, config.edge.trusted_proxies))

    app = GatewayApp(
        http,
        routes=routes,
        lifespan=app_lifespan,
        exception_handlers={Exception: internal_error},
    )
    add_cors(app, config.edge)
    app.state.gateway = state
    app.state.streaming = streaming
    return app


def create_app(
    supergraph_sdl: str,
    clients: Mapping[str, SubgraphClient] | None = None,
    *,
    graphiql: bool = True,
    graphiql_query: str | None = None,
    override_labels: tuple[str, ...] = (),
    edge: EdgeConfig | None = None,
    authenticator: Authenticator | None = None,
    mcp: McpConfig | None = None,
) -> Starlette:
    """The router as an ASGI app for a supergraph given as text (HTTP clients when none);
    `edge` says what each edge stage does (default: every stage off); `mcp` what its MCP
    endpoint offers; `graphiql_query` the operations GraphiQL shows on a first visit."""
    return create_gateway_app(
        GatewayConfig(
            supergraph_sdl=supergraph_sdl,
            clients=clients,
            graphiql=graphiql,
            graphiql_query=graphiql_query,
            override_labels=override_labels,
            edge=edge if edge is not None else EdgeConfig.off(),
            authenticator=authenticator,
        ),
        mcp,
    )


class GatewayApp(Starlette):
    """The router's Starlette app, where a `POST /graphql` (almost every request) goes straight
    to its handler: the generic middleware and route matching cost more than the router's own
    work on a small query. The answer is the same: a failure is the same plain error as
    Starlette's last exception handler gives. Any other request, and every request once
    middleware has been added (CORS), takes Starlette's path."""

    def __init__(
        self,
        http: GraphQLOverHTTP,
        *,
        routes: Sequence[BaseRoute],
        lifespan: Lifespan[Starlette],
        exception_handlers: Mapping[Any, ExceptionHandler],
    ) -> None:
        super().__init__(routes=routes, lifespan=lifespan, exception_handlers=exception_handlers)
        self._graphql_post = http.post

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/graphql"
            and not self.user_middleware
        ):
            scope["app"] = self
            request = Request(scope, receive)
            try:
                response = await self._graphql_post(request)
            except Exception as exc:
                response = await internal_error(request, exc)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)
