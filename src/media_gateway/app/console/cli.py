"""``media-gateway console``: the operations console alone, for the distributed mode, in front
of a gateway's public URL (``media-gateway serve`` already serves it at ``/admin``). Put it
under the gateway's public address with ``GATEWAY_FORWARD="/admin=http://console:4010"`` so
that operators reach it where they reach the API."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def metrics_url(graphql_url: str) -> str:
    """A service's ``/metrics`` next to its ``/graphql``."""
    parts = urlsplit(graphql_url)
    return urlunsplit((parts.scheme, parts.netloc, "/metrics", "", ""))


def cmd_console(args: argparse.Namespace) -> int:
    import uvicorn

    from media_gateway.app import SUBGRAPHS
    from media_gateway.platform.logging import RequestIdMiddleware, configure_logging
    from media_gateway.platform.settings import get_settings
    from media_gateway.platform.subgraph_urls import subgraph_url

    from . import console_app

    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    metrics = {name: metrics_url(url) for name in sorted(SUBGRAPHS) if (url := subgraph_url(name))}
    app = console_app(args.gateway_url, settings, metrics)
    uvicorn.run(
        RequestIdMiddleware(app),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
    )
    return 0


def register(subparsers: Any) -> None:
    console = subparsers.add_parser(
        "console",
        help="serve the operations console (/admin) alone, in front of a gateway (distributed "
        "mode; serve includes it)",
    )
    console.add_argument(
        "--gateway-url",
        default="http://127.0.0.1:4000",
        help="the gateway it calls (its /graphql, /ready, /health/subgraphs)",
    )
    console.add_argument("--host", default="127.0.0.1")
    console.add_argument("--port", type=int, default=4010)
    console.set_defaults(func=cmd_console)
