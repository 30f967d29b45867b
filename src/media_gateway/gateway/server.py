"""GraphQL over HTTP for the router (Starlette).

POST with JSON (a single request or a batch array); GET for queries only; responses as
`application/graphql-response+json` or `application/json` chosen by the Accept header, with
the status codes the GraphQL-over-HTTP specification prescribes; GraphiQL for browsers;
`/health` for liveness (the process answers) and `/ready` for readiness (a supergraph is
loaded; subgraphs whose circuit breaker is open are listed as degraded); the supergraph file
watched and swapped without dropping requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from media_gateway.platform.forwarding import TrustedProxies
from media_gateway.platform.heap import freeze_startup_heap

from . import deadline
from .authorization import Authenticator
from .budget import CpuBudget
from .clients import HttpPool, HttpSubgraphClient, SubgraphClient
from .edge.config import EdgeConfig, LimitsConfig
from .router import GraphQLResponse, Router
from .supergraph import Supergraph, SupergraphError
from .transports_http import query_string_params

log = logging.getLogger("media_gateway.gateway")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
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


@dataclass
class GatewayConfig:
    supergraph_path: Path | None = None
    supergraph_sdl: str | None = None
    clients: Mapping[str, SubgraphClient] | None = None
    subgraph_urls: Mapping[str, str] = field(default_factory=dict)
    subgraph_timeout: float = 30.0
    override_labels: tuple[str, ...] = ()
    graphiql: bool = True
    watch_interval: float = 1.0
    # edge stages (limits, APQ, CSRF, rate limits, resilience, telemetry); None: none
    edge: EdgeConfig | None = None
    # who is calling, for @authenticated / @requiresScopes; None: not enforced here
    authenticator: Authenticator | None = None
    tracer_provider: Any = None


class GatewayState:
    """Holds the current router; a new supergraph swaps it atomically."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.router: Router | None = None
        self._mtime: float | None = None
        self._http = HttpPool()
        self._watch_task: asyncio.Task[None] | None = None
        # one worker beside the event loop for new documents, shared by successive routers
        self.budget = CpuBudget(
            config.edge.limits.cpu_budget_seconds
            if config.edge is not None
            else LimitsConfig.cpu_budget_seconds
        )
        self.edge: Any = None
        if config.edge is not None:
            from .edge.pipeline import Edge

            self.edge = Edge(config.edge, tracer_provider=config.tracer_provider)

    def _clients_for(self, supergraph: Supergraph) -> dict[str, SubgraphClient]:
        if self.config.clients is not None:
            return dict(self.config.clients)
        clients: dict[str, SubgraphClient] = {}
        for name, url in supergraph.subgraph_urls.items():
            url = self.config.subgraph_urls.get(name) or subgraph_url(name, url)
            clients[name] = HttpSubgraphClient(
                url, timeout=self.config.subgraph_timeout, pool=self._http
            )
        return clients

    def load(self, sdl: str) -> None:
        supergraph = Supergraph(sdl)
        clients = self._clients_for(supergraph)
        if self.edge is not None:
            clients = self.edge.wrap_clients(clients)
        self.router = Router(
            supergraph,
            clients,
            override_labels=self.config.override_labels,
            authenticator=self.config.authenticator,
            budget=self.budget,
        )

    def load_initial(self) -> None:
        if self.config.supergraph_sdl is not None:
            self.load(self.config.supergraph_sdl)
        elif self.config.supergraph_path is not None:
            self._mtime = self.config.supergraph_path.stat().st_mtime
            self.load(self.config.supergraph_path.read_text())

    async def watch(self) -> None:
        path = self.config.supergraph_path
        if path is None:
            return
        while True:
            await asyncio.sleep(self.config.watch_interval)
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if mtime == self._mtime:
                continue
            self._mtime = mtime
            try:
                self.load(path.read_text())
                log.info("supergraph reloaded", extra={"supergraph": str(path)})
            except (SupergraphError, OSError) as exc:
                log.error("supergraph reload failed; keeping the previous one: %s", exc)

    async def start(self) -> None:
        if self.router is None:
            self.load_initial()
        if self.config.supergraph_path is not None:
            self._watch_task = asyncio.create_task(self.watch())

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        if self.router is not None and self.config.clients is not None:
            await self.router.aclose()
        if self.edge is not None:
            await self.edge.aclose()
        await self._http.aclose()
        self.budget.close()


def subgraph_url(name: str, url: str) -> str:
    """Where a subgraph is reached: `SUBGRAPH_URL_<NAME>` when set, else its supergraph URL."""
    return os.environ.get("SUBGRAPH_URL_" + name.upper().replace("-", "_")) or url


def _media_type(request: Request) -> str | None:
    accept = request.headers.get("accept", "")
    if not accept.strip():
        return JSON
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        bits = [b.strip() for b in part.split(";")]
        mt = bits[0].lower()
        q = 1.0
        for b in bits[1:]:
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        if mt == GRAPHQL_RESPONSE:
            cand = GRAPHQL_RESPONSE
        elif mt in (JSON, "application/*", "*/*"):
            cand = JSON if mt == JSON else GRAPHQL_RESPONSE if mt != "*/*" else JSON
        else:
            continue
        if q > 0 and (best is None or q > best[0]):
            best = (q, cand)
    return best[1] if best else None


def _json(
    body: Any, status: int = 200, media_type: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def _bad_request(message: str, media_type: str, status: int = 400) -> Response:
    return _json(
        {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]},
        status,
        media_type,
    )


def _status(result: GraphQLResponse, media_type: str) -> int:
    if result.status is not None:
        return result.status
    if media_type == GRAPHQL_RESPONSE and result.request_error:
        codes = {(e.get("extensions") or {}).get("code") for e in result.body.get("errors", [])}
        if "METHOD_NOT_ALLOWED" in codes:
            return 405
        return 400
    return 200


_MUTATION = re.compile(r"\bmutation\b")


def _may_write(params: Any) -> bool:
    """Whether an operation of a batch may be a mutation (when in doubt, it may: an operation
    sent by id, or a document naming a mutation anywhere, runs alone and in order)."""
    query = params.get("query") if isinstance(params, dict) else None
    return not isinstance(query, str) or _MUTATION.search(query) is not None


async def _internal_error(request: Request, exc: Exception) -> Response:
    """The last line of defence: a bug answers a plain GraphQL error, never a traceback; the
    log keeps the details under the request's id."""
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    log.error(
        "request failed: %s",
        exc.__class__.__name__,
        exc_info=exc,
        extra={"request_id": request_id, "path": request.url.path},
    )
    return _json(
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


def readiness(state: GatewayState) -> tuple[int, dict[str, Any]]:
    """(status code, body) of `/ready`. Not ready (503) only while no supergraph is loaded: a
    subgraph whose circuit breaker is open is listed under `degraded`, and the gateway stays
    ready since it still answers every field the other subgraphs resolve."""
    router = state.router
    if router is None:
        return 503, {
            "status": "unavailable",
            "dependencies": {"supergraph": "not loaded"},
            "failing": {"supergraph": "not loaded"},
            "reason": "no supergraph loaded",
        }
    breakers = state.edge.breakers if state.edge is not None else {}
    subgraphs: dict[str, str] = {}
    degraded: dict[str, str] = {}
    for name in sorted(router.supergraph.subgraph_urls):
        breaker = breakers.get(name)
        subgraphs[name] = breaker.state if breaker is not None else "unmonitored"
        if breaker is not None and subgraphs[name] != "closed":
            degraded[name] = f"circuit breaker {subgraphs[name]}"
    body: dict[str, Any] = {
        "status": "ready",
        "dependencies": {"supergraph": "loaded", "subgraphs": subgraphs},
    }
    if degraded:
        body["degraded"] = degraded
    return 200, body


def create_gateway_app(config: GatewayConfig) -> Starlette:
    state = GatewayState(config)
    if config.supergraph_sdl is not None or config.supergraph_path is not None:
        state.load_initial()

    forwarded_names = FORWARDED_HEADERS
    trusted_proxies = (
        config.edge.trusted_proxies if config.edge is not None else TrustedProxies.from_env()
    )
    request_timeout = config.edge.request_timeout if config.edge is not None else None
    if state.edge is not None:
        forwarded_names = tuple(
            sorted(set(FORWARDED_HEADERS) | state.edge.forwarded_header_names())
        )

    def forwarded(request: Request) -> dict[str, str]:
        headers = {h: request.headers[h] for h in forwarded_names if h in request.headers}
        headers.setdefault("x-request-id", uuid.uuid4().hex)
        # subgraphs learn the client's address from the gateway, never from the client: the
        # peer, or the client a trusted proxy names (subgraphs behind the gateway count it
        # as one of their trusted proxies)
        headers.pop("x-forwarded-for", None)
        peer = request.client.host if request.client else None
        address = trusted_proxies.client_address(peer, request.headers)
        if address:
            headers["x-forwarded-for"] = address
        return headers

    # subscriptions (and any operation) over WebSocket, SSE and multipart HTTP
    from .streaming import StreamingEndpoints

    streaming = StreamingEndpoints(
        lambda: state.router,
        forwarded_names,
        state.edge.telemetry if state.edge is not None else None,
        state.edge,
    )

    async def run_one(
        params: Any, request: Request, *, get: bool = False, batch: Any = None
    ) -> GraphQLResponse:
        router = state.router
        if router is None:
            return GraphQLResponse(
                {
                    "errors": [
                        {"message": "No supergraph loaded.", "extensions": {"code": "NOT_READY"}}
                    ]
                },
                request_error=True,
            )
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
        if state.edge is not None:
            from .edge.pipeline import RequestInfo

            return await state.edge.handle(
                router,
                params,
                RequestInfo(
                    request.headers, request.client.host if request.client else None, request.method
                ),
                forwarded(request),
                expose_plan=request.headers.get(PLAN_HEADER, "").lower() in ("1", "true", "yes"),
                allowed_operations=frozenset({"query"}) if get else None,
                batch=batch,
            )
        return await router.execute(
            params.get("query"),
            params.get("variables"),
            params.get("operationName"),
            forwarded(request),
            expose_plan=request.headers.get(PLAN_HEADER, "").lower() in ("1", "true", "yes"),
            allowed_operations=frozenset({"query"}) if get else None,
            caller_headers=request.headers,
        )

    async def run_batch(payload: list[Any], request: Request) -> list[GraphQLResponse]:
        """Run a batch's operations: queries side by side, each mutation alone and in the
        order sent (what it writes may be what the next operation reads)."""
        batch = None
        if state.edge is not None:
            from .edge.pipeline import Batch

            batch = Batch(len(payload))
        results: list[GraphQLResponse] = []
        pending: list[Any] = []

        async def flush() -> None:
            results.extend(
                await asyncio.gather(*(run_one(p, request, batch=batch) for p in pending))
            )
            pending.clear()

        for params in payload:
            if _may_write(params):
                await flush()
                results.append(await run_one(params, request, batch=batch))
            else:
                pending.append(params)
        await flush()
        return results

    def edge_refusal(request: Request) -> Response | None:
        if state.edge is None:
            return None
        refused = state.edge.http_refusal(request.headers)
        if refused is None:
            return None
        return _json(refused[1], refused[0], _media_type(request) or JSON)

    async def graphql_post(request: Request) -> Response:
        refused = edge_refusal(request)
        if refused is not None:
            return refused
        if streaming.wants_stream(request):
            return await streaming.http(request)
        media_type = _media_type(request)
        if media_type is None:
            return _bad_request("Accept header allows no supported media type.", JSON, 406)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in (JSON, "application/graphql+json"):
            return _bad_request("Content-Type must be application/json.", media_type, 415)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _bad_request("Request body is too large.", media_type, 413)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _bad_request("Request body is not valid JSON.", media_type)
        if isinstance(payload, list):
            if not payload:
                return _bad_request("A batch must contain at least one operation.", media_type)
            limit = config.edge.limits.max_batch_operations if config.edge is not None else None
            if limit is not None and len(payload) > limit:
                return _json(
                    {
                        "errors": [
                            {
                                "message": f"A batch may hold at most {limit} operations; "
                                f"this one holds {len(payload)}.",
                                "extensions": {
                                    "code": "BATCH_LIMIT_EXCEEDED",
                                    "limit": limit,
                                    "actual": len(payload),
                                },
                            }
                        ]
                    },
                    400,
                    media_type,
                )
            with deadline.within(request_timeout):
                results = await run_batch(payload, request)
            return _json([r.body for r in results], 200, media_type)
        result = await run_one(payload, request)
        return _json(result.body, _status(result, media_type), media_type, result.headers or None)

    async def graphql_get(request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "query" not in request.query_params and "text/html" in accept:
            if not config.graphiql:
                return _bad_request("GraphiQL is disabled.", JSON, 404)
            from .graphiql import graphiql_html

            return HTMLResponse(graphiql_html("/graphql", "/graphql"))
        refused = edge_refusal(request)
        if refused is not None:
            return refused
        if streaming.wants_stream(request):
            return await streaming.http(request)
        media_type = _media_type(request)
        if media_type is None:
            return _bad_request("Accept header allows no supported media type.", JSON, 406)
        params = query_string_params(request.query_params)
        if params is None:
            return _bad_request("variables is not valid JSON.", media_type)
        if state.edge is not None:
            raw_ext = request.query_params.get("extensions")
            if raw_ext:
                try:
                    params["extensions"] = orjson.loads(raw_ext)
                except orjson.JSONDecodeError:
                    return _bad_request("extensions is not valid JSON.", media_type)
            for key in ("documentId", "doc_id", "id"):
                if key in request.query_params:
                    params[key] = request.query_params[key]
        result = await run_one(params, request, get=True)
        status = _status(result, media_type)
        codes = {(e.get("extensions") or {}).get("code") for e in result.body.get("errors", [])}
        if "METHOD_NOT_ALLOWED" in codes:
            return _json(result.body, 405, media_type, headers={"allow": "POST"})
        return _json(result.body, status, media_type, result.headers or None)

    async def health(request: Request) -> Response:
        return _json({"status": "pass"})

    async def ready(request: Request) -> Response:
        status, body = readiness(state)
        return _json(body, status)

    routes: list[BaseRoute] = [
        Route("/graphql", graphql_post, methods=["POST"]),
        Route("/graphql", graphql_get, methods=["GET"]),
        WebSocketRoute("/graphql", streaming.websocket),
        Route("/", graphql_post, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
    ]
    if state.edge is not None:
        from .edge.routes import edge_routes

        routes.extend(edge_routes(state.edge))
    if config.graphiql:
        with contextlib.suppress(ImportError):
            from .graphiql import graphiql_routes

            routes.extend(graphiql_routes())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await streaming.close()
            await state.stop()

    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={Exception: _internal_error}
    )
    if config.edge is not None and config.edge.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.edge.cors_origins),
            allow_credentials=config.edge.cors_allow_credentials,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
        )
    app.state.gateway = state
    app.state.streaming = streaming
    return app


def create_app(
    supergraph_sdl: str,
    clients: Mapping[str, SubgraphClient] | None = None,
    *,
    graphiql: bool = True,
    override_labels: tuple[str, ...] = (),
    edge: EdgeConfig | None = None,
    authenticator: Authenticator | None = None,
) -> Starlette:
    """The router as an ASGI app for a supergraph given as text (HTTP clients when none);
    `edge` is an `edge.EdgeConfig` turning on the edge stages."""
    return create_gateway_app(
        GatewayConfig(
            supergraph_sdl=supergraph_sdl,
            clients=clients,
            graphiql=graphiql,
            override_labels=override_labels,
            edge=edge,
            authenticator=authenticator,
        )
    )
