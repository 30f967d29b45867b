"""The embedded mode: the gateway and all five subgraphs in one process."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from media_gateway.app import Platform
from media_gateway.platform.logging import RequestIdMiddleware
from media_gateway.platform.settings import Settings, get_settings

log = logging.getLogger(__name__)

SUPERGRAPH_PATH = Path(__file__).resolve().parent.parent / "schema" / "supergraph.graphql"
# the platform's MCP operation set (data: `.graphql` operations and `mcp.toml`)
MCP_OPERATIONS = Path(__file__).resolve().parent.parent / "mcp"
# what GraphiQL shows on a first visit: signing in, the token in the Headers tab, a subscription
GRAPHIQL_QUERY = Path(__file__).resolve().parent / "graphiql.graphql"


class SupergraphMissing(Exception):
    pass


def load_supergraph(path: Path = SUPERGRAPH_PATH) -> str:
    if not path.is_file():
        raise SupergraphMissing(
            f"The composed supergraph ({path.name}) is missing; build it with "
            "`media-gateway schema compose`."
        )
    return path.read_text(encoding="utf-8")


def build_gateway_app(
    platform: Platform, supergraph_sdl: str, *, graphiql: bool = True, mcp: Any = None
) -> object:
    """The gateway's ASGI app with an in-process client per subgraph; its MCP endpoint offers
    the platform's operation set (`mcp`: a `McpConfig`, default from the environment)."""
    from media_gateway.app.authn import platform_authenticator
    from media_gateway.gateway.cli import edge_config
    from media_gateway.gateway.clients import InProcessClient
    from media_gateway.gateway.mcp.config import McpConfig
    from media_gateway.gateway.server import create_app

    clients = {
        name: InProcessClient(subgraph.schema, subgraph.context)
        for name, subgraph in platform.subgraphs.items()
    }
    app = create_app(
        supergraph_sdl,
        clients,
        graphiql=graphiql,
        graphiql_query=GRAPHIQL_QUERY.read_text(encoding="utf-8"),
        edge=edge_config(),
        authenticator=platform_authenticator(platform.runtime.settings, platform.runtime.database),
        mcp=mcp if mcp is not None else McpConfig.from_env(operations=MCP_OPERATIONS),
    )
    catalog = platform.subgraphs.get("catalog")
    if catalog is not None:
        # the catalog's signed ingestion webhook (POST /webhooks/ingest/{platform})
        app.router.routes.extend(catalog.routes)
    identity = platform.subgraphs.get("identity")
    if identity is not None:
        # the authorization server's endpoints (OAuth, its metadata, the JWKS) on the public
        # address, where MCP clients and apps find them (OAUTH_ISSUER defaults to PUBLIC_URL)
        app.router.routes.extend(identity.routes)
    # the operations console at /admin: a GraphQL client of this very gateway app
    from media_gateway.app.console import console_routes_in_process

    async def service_metrics() -> str:
        body, _ = await platform.runtime.metrics.exposition()
        return body.decode()

    app.router.routes.extend(
        console_routes_in_process(
            app, platform.runtime.settings, {"platform (embedded)": service_metrics}
        )
    )
    return RequestIdMiddleware(app)


async def serve(settings: Settings, host: str, port: int, supergraph_sdl: str) -> None:
    import uvicorn

    from media_gateway.platform.optional_services import report_missing_services

    await report_missing_services(settings, "serve")
    platform = Platform.create()
    await platform.startup()
    try:
        from media_gateway.gateway.edge.config import graphiql_enabled

        app = build_gateway_app(platform, supergraph_sdl, graphiql=graphiql_enabled())
        config = uvicorn.Config(
            app,  # type: ignore[arg-type]
            host=host,
            port=port,
            log_config=None,
            access_log=False,  # the access line is our own (one per request)
            timeout_graceful_shutdown=15,
            lifespan="on",
        )
        log.info("serving", extra={"url": f"http://{host}:{port}/graphql"})
        await uvicorn.Server(config).serve()
    finally:
        await platform.shutdown()


def public_url_for(host: str, port: int) -> str:
    """The address people reach ``serve`` at when ``PUBLIC_URL`` is not set: the host and
    port it listens on (``localhost`` for the loopback or every interface, as the README's
    examples and the MCP endpoint's default resource URL say)."""
    if host in ("0.0.0.0", "::", "", "127.0.0.1", "::1"):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def with_public_url(settings: Settings, host: str, port: int) -> Settings:
    """``settings`` whose ``PUBLIC_URL`` (links in emails, ``verificationUri``, the OAuth
    issuer) is where this server listens, unless the environment names one."""
    if os.environ.get("PUBLIC_URL", "").strip():
        return settings
    os.environ["PUBLIC_URL"] = public_url_for(host, port)
    get_settings.cache_clear()  # every component reads the same, corrected settings
    return get_settings()


def run(settings: Settings, host: str, port: int, supergraph: Path | None = None) -> int:
    import sys

    settings = with_public_url(settings, host, port)
    try:
        sdl = load_supergraph(supergraph or SUPERGRAPH_PATH)
    except SupergraphMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from media_gateway.assembly.readiness import StartupError
    from media_gateway.storage.database import DatabaseSetupError

    try:
        run_event_loop(serve(settings, host, port, sdl))
    except (StartupError, DatabaseSetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop where it is installed (as ``uvicorn.run`` does for the
    gateway and subgraph commands), on asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
