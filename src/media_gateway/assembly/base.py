"""What every subgraph is: a named federation schema, its request context and its ASGI app."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from media_gateway.assembly.readiness import Dependency, StartupError, service_dependencies
from media_gateway.assembly.readiness import report as readiness_report
from media_gateway.auth.callers import ApiKeyLookup, identify_caller, with_api_keys
from media_gateway.auth.revocation import close as close_revoked_sessions
from media_gateway.auth.revocation import revoked_sessions
from media_gateway.auth.tokens import Claims, token_service
from media_gateway.platform.events import EventBus
from media_gateway.platform.forwarding import TrustedProxies
from media_gateway.platform.heap import freeze_startup_heap
from media_gateway.platform.logging import RequestIdMiddleware, current_request_id
from media_gateway.platform.metrics import ServiceMetrics
from media_gateway.platform.optional_services import report_missing_services
from media_gateway.platform.settings import Settings, get_settings
from media_gateway.storage.database import Database, DatabaseSetupError
from media_gateway.subgraphs.identity.api_keys import ApiKeys

log = logging.getLogger(__name__)

ContextFactory = Callable[[Mapping[str, str]], Awaitable[object]]
Hook = Callable[[], Awaitable[None]]


@dataclass
class Runtime:
    """What subgraphs running in one process share: settings, the database, the event bus
    and the metrics registry served on ``/metrics``."""

    settings: Settings
    database: Database
    events: EventBus = field(default_factory=EventBus)
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    # how API keys are found (the identity subgraph's lookup, by default)
    api_keys: ApiKeyLookup | None = None

    @classmethod
    def create(cls, settings: Settings | None = None) -> Runtime:
        settings = settings or get_settings()
        database = Database(settings.database_url, schema=settings.database_schema)
        return cls(settings=settings, database=database)

    def __post_init__(self) -> None:
        # what this process knows of revoked sessions, kept up to date through Redis when
        # configured and the database otherwise, shared by every subgraph on this runtime
        revoked_sessions(self.database, self.settings.redis_url)
        if self.api_keys is None:
            self.api_keys = ApiKeys(self.database).find

    async def close(self) -> None:
        await close_revoked_sessions(self.database)
        await self.database.dispose()


def identify(headers: Mapping[str, str], settings: Settings) -> tuple[Claims | None, str | None]:
    """The caller's verified claims (bearer token or API key), or the reason they were refused."""
    return identify_caller(headers, settings)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def base_context(runtime: Runtime, headers: Mapping[str, str]) -> dict[str, Any]:
    viewer, auth_error = identify(headers, runtime.settings)
    return {
        "database": runtime.database,
        "settings": runtime.settings,
        "headers": headers,
        "viewer": viewer,
        "auth_error": auth_error,
        "request_id": current_request_id() or _header(headers, "x-request-id"),
    }


class _SubgraphGraphQL(GraphQL[Any, Any]):
    def __init__(self, subgraph: Subgraph) -> None:
        super().__init__(subgraph.schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self._subgraph = subgraph

    async def get_context(self, request: Any, response: Any) -> Any:
        return await self._subgraph.context(
            with_client_address(
                request.headers,
                request.client.host if request.client else None,
                self._subgraph.runtime.settings.trusted_proxies,
            )
        )


def with_client_address(
    headers: Mapping[str, str], peer: str | None, trusted: TrustedProxies
) -> dict[str, str]:
    """The request's headers with ``x-forwarded-for`` holding only the client's address: the
    peer, or, when the peer is a trusted proxy (the gateway), the client it names. In
    embedded mode the gateway puts the address there itself, in process."""
    out = {name.lower(): value for name, value in headers.items()}
    out.pop("x-forwarded-for", None)
    address = trusted.client_address(peer, headers)
    if address:
        out["x-forwarded-for"] = address
    return out


@dataclass
class Subgraph:
    """One federated subgraph: runs in-process (schema + context) or as its own service."""

    name: str
    schema: strawberry.federation.Schema
    context: ContextFactory
    runtime: Runtime
    default_port: int
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    routes: Sequence[BaseRoute] = ()
    owns_runtime: bool = False
    service: Any = None  # the subgraph's main service, for in-process callers and tests
    _started: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        # API keys are checked against the key table before the context is built
        self.context = with_api_keys(
            self.context,
            self.runtime.database,
            self.runtime.settings,
            api_keys=self.runtime.api_keys,
        )

    @property
    def default_url(self) -> str:
        return f"http://127.0.0.1:{self.default_port}/graphql"

    def sdl(self) -> str:
        """The federation SDL (what ``_service { sdl }`` answers)."""
        return str(self.schema.as_str())

    async def startup(self) -> None:
        if self._started:
            return
        if self.owns_runtime:  # a service of its own: say which optional service is missing
            await report_missing_services(self.runtime.settings, self.name)
            if self.name != "identity":
                await explain_verification_keys(self.runtime.settings, self.name)
        if self.runtime.settings.auto_migrate:
            await self.runtime.database.migrate()
        for hook in self.on_startup:
            await hook()
        self._started = True
        log.info("subgraph started", extra={"subgraph": self.name})

    async def shutdown(self) -> None:
        if not self._started:
            return
        for hook in self.on_shutdown:
            await hook()
        self._started = False
        if self.owns_runtime:
            await self.runtime.close()
        log.info("subgraph stopped", extra={"subgraph": self.name})

    def dependencies(self) -> list[Dependency]:
        """What this subgraph depends on, as ``/ready`` reports it."""
        settings = self.runtime.settings
        keys = token_service(settings).keys
        return service_dependencies(
            self.name,
            settings,
            self.runtime.database.ping,
            alone=self.owns_runtime,
            keys_known=keys.has_keys,
            jwks_refresh=keys.refresh_jwks if settings.jwt_jwks_url else None,
        )

    def asgi_app(self) -> ASGIApp:
        """POST/GET /graphql, GET /health (liveness), GET /ready (readiness), GET /metrics
        (Prometheus).

        A start-up that fails (the database cannot be used, a key cannot be written) is
        logged in one line saying what to do, and the service exits: never a traceback."""
        graphql_app = _SubgraphGraphQL(self)
        name = self.name
        dependencies = self.dependencies()
        failure: list[str] = []

        async def health(_: Request) -> Response:
            return JSONResponse({"status": "ok", "subgraph": name})

        async def ready(_: Request) -> Response:
            status, body = await readiness_report(name, dependencies)
            return JSONResponse(body, status_code=status)

        async def metrics(_: Request) -> Response:
            body, content_type = await self.runtime.metrics.exposition()
            return Response(body, media_type=content_type)

        @asynccontextmanager
        async def lifespan(_: Starlette) -> Any:
            try:
                await self.startup()
            except Exception as exc:
                failure.append(startup_failure(name, exc))
                raise
            freeze_startup_heap()
            try:
                yield
            finally:
                await self.shutdown()

        app = Starlette(
            routes=[
                Route("/health", health, methods=["GET"]),
                Route("/ready", ready, methods=["GET"]),
                Route("/metrics", metrics, methods=["GET"]),
                Route("/graphql", graphql_app, methods=["GET", "POST"]),
                WebSocketRoute("/graphql", graphql_app),
                *self.routes,
            ],
            lifespan=lifespan,
        )

        async def service(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "lifespan":
                await app(scope, receive, send)
                return

            async def send_failure_in_one_line(message: Message) -> None:
                if message["type"] == "lifespan.startup.failed" and failure:
                    message = {**message, "message": failure[-1]}
                await send(message)

            await app(scope, receive, send_failure_in_one_line)

        return RequestIdMiddleware(service)


def startup_failure(name: str, exc: BaseException) -> str:
    """One line saying why ``name`` could not start (the traceback only at DEBUG level)."""
    log.debug("start-up failed", exc_info=exc, extra={"subgraph": name})
    if isinstance(exc, StartupError | DatabaseSetupError):
        return f"the {name} service cannot start: {exc}"
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"the {name} service cannot start: {type(exc).__name__}" + (
        f": {detail}" if detail else ""
    )


async def explain_verification_keys(settings: Settings, component: str) -> None:
    """A service that verifies tokens but does not sign them: learn the identity service's
    keys now, or say plainly why tokens will be refused and what to set."""
    keys = token_service(settings).keys
    if settings.jwt_jwks_url:
        if not await keys.refresh_jwks(force=True):
            log.warning(
                "the identity JWKS (JWT_JWKS_URL) does not answer yet: access tokens are "
                "refused until it does; it is asked again when a token arrives",
                extra={"component": component},
            )
        elif not keys.has_keys():
            log.warning(
                "the identity JWKS (JWT_JWKS_URL) publishes no key yet: access tokens are "
                "refused until the identity service has started",
                extra={"component": component},
            )
        return
    if not keys.has_keys():
        log.warning(
            "no key to verify access tokens with: JWT_JWKS_URL is unset and the key folder "
            "(JWT_KEY_DIR) holds none; set JWT_JWKS_URL to the identity service's "
            "/.well-known/jwks.json (until then access tokens are refused)",
            extra={"component": component},
        )
