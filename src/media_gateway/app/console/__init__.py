"""The operations console: a small server-rendered web app at ``/admin`` for what operators
do daily (find an account, end its sessions, lock and unlock it; edit where a title can be
watched; read the audit log; see search analytics and service health).

It is a client of the gateway's public GraphQL API, signed in as the operator (the ``login``
mutation), so the router and the subgraphs enforce the operator's scopes and the audit log
names the operator; it never reads a subgraph's tables. ``media-gateway serve`` mounts it on
the gateway's own app (``console_routes_in_process``); in the distributed mode
``media-gateway console`` serves it alone in front of a gateway's public URL
(``console_app``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.routing import BaseRoute

from media_gateway.platform.settings import Settings

from .client import GatewayLink, MetricsSource, remote_metrics
from .framework import PREFIX, Console
from .pages import console_routes

__all__ = [
    "PREFIX",
    "Console",
    "GatewayLink",
    "console_app",
    "console_routes",
    "console_routes_in_process",
]


def console_routes_in_process(
    gateway_app: Any, settings: Settings, metrics: Mapping[str, MetricsSource] | None = None
) -> list[BaseRoute]:
    """The console's routes calling ``gateway_app`` (the gateway's ASGI app of this process)."""
    return console_routes(Console(GatewayLink.in_process(gateway_app, metrics), settings))


def console_app(gateway_url: str, settings: Settings, metrics_urls: Mapping[str, str]) -> Any:
    """The console alone (an ASGI app) in front of the gateway at ``gateway_url``, reading
    each service's metrics at ``metrics_urls`` (name -> its ``/metrics`` URL)."""
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    metrics = {name: remote_metrics(url) for name, url in metrics_urls.items()}
    console = Console(GatewayLink.remote(gateway_url, metrics), settings)

    async def root(_: Any) -> RedirectResponse:
        return RedirectResponse(PREFIX, status_code=307)

    return Starlette(routes=[Route("/", root, methods=["GET"]), *console_routes(console)])
