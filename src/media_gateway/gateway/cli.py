"""`media-gateway gateway` (the router alone) and `media-gateway plan` (print a query plan)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "gateway",
        help="run the federation router alone against a supergraph file",
        description="Run the federation router against any supergraph; subgraph URLs come "
        "from the supergraph (override one with SUBGRAPH_URL_<NAME>).",
    )
    p.add_argument("--supergraph", required=True, type=Path, help="supergraph SDL file")
    p.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "4000")))
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--override-label",
        action="append",
        default=[],
        dest="override_labels",
        help="progressive @override label in force (repeatable)",
    )
    p.add_argument("--subgraph-timeout", type=float, default=30.0, help="seconds per fetch")
    p.add_argument("--no-graphiql", action="store_true", help="do not serve GraphiQL")
    p.set_defaults(func=run_gateway)

    q = subparsers.add_parser("plan", help="print the query plan of an operation")
    q.add_argument("--supergraph", required=True, type=Path)
    q.add_argument("--operation-name", default=None)
    q.add_argument("--json", action="store_true", help="print the plan as JSON")
    q.add_argument(
        "--override-label",
        action="append",
        default=[],
        dest="override_labels",
        help="progressive @override label in force (repeatable)",
    )
    q.add_argument("query", help="the operation text, or @FILE to read it from a file")
    q.set_defaults(func=run_plan)


def _labels(args: argparse.Namespace) -> tuple[str, ...]:
    env = os.environ.get("OVERRIDE_LABELS", "")
    return tuple(args.override_labels) + tuple(x for x in env.split(",") if x)


def run_gateway(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from media_gateway.platform.logging import RequestIdMiddleware

    from .edge.config import EdgeConfig, graphiql_enabled, profile
    from .forwarding import ForwardingError, forwards_from_env
    from .server import GatewayConfig, create_gateway_app, subgraph_url
    from .supergraph import Supergraph, SupergraphError

    _configure_logging()
    log = logging.getLogger("media_gateway.gateway")
    path: Path = args.supergraph.resolve()
    try:
        supergraph = Supergraph(path.read_text())
    except (OSError, SupergraphError) as exc:
        log.error("cannot load the supergraph %s: %s", path, exc)
        print(f"error: cannot load supergraph {path}: {exc}", file=sys.stderr)
        return 2
    edge = edge_config()
    try:
        forwards = forwards_from_env()
    except ForwardingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = GatewayConfig(
        supergraph_path=path,
        forwards=forwards,
        override_labels=_labels(args),
        subgraph_timeout=args.subgraph_timeout,
        graphiql=graphiql_enabled() and not args.no_graphiql,
        edge=edge,
        authenticator=authenticator_from_env(),
    )
    log.info(
        "gateway starting",
        extra={
            "supergraph": str(path),
            "subgraphs": {
                name: subgraph_url(name, url) for name, url in supergraph.subgraph_urls.items()
            },
            "listen": f"http://{args.host}:{args.port}/graphql",
            "workers": args.workers,
            "profile": profile(),
            "edge": edge != EdgeConfig.off(),
            "graphiql": config.graphiql,
            "authenticator": os.environ.get("GATEWAY_AUTHENTICATOR") or None,
        },
    )
    if args.workers > 1:
        os.environ["MEDIA_GATEWAY_SUPERGRAPH"] = str(path)
        os.environ["OVERRIDE_LABELS"] = ",".join(config.override_labels)
        uvicorn.run(
            "media_gateway.gateway.cli:worker_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_config=None,
            access_log=False,  # the access line is our own (one per request)
            timeout_graceful_shutdown=10,
        )
        return 0
    uvicorn.run(
        RequestIdMiddleware(create_gateway_app(config)),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,  # the access line is our own (one per request)
        timeout_graceful_shutdown=10,
    )
    return 0


def _configure_logging() -> None:
    """JSON lines on stderr as LOG_LEVEL and LOG_JSON say (the router reads no settings
    object of the product's)."""
    from media_gateway.platform.logging import configure_logging

    configure_logging(
        os.environ.get("LOG_LEVEL", "INFO"),
        json_lines=os.environ.get("LOG_JSON", "1").lower() not in ("0", "false", "no", "off"),
    )


def authenticator_from_env() -> Any:
    """The authenticator named by GATEWAY_AUTHENTICATOR (``module:function``), if any: it
    turns request headers into the caller the @authenticated / @requiresScopes checks use."""
    target = os.environ.get("GATEWAY_AUTHENTICATOR", "").strip()
    if not target:
        return None
    import importlib

    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute or "authenticate")


def edge_config() -> Any:
    """The edge stages from the environment (see gateway/edge); GATEWAY_EDGE=0 configures
    every one of them off."""
    from .edge import EdgeConfig

    if os.environ.get("GATEWAY_EDGE", "1").lower() in ("0", "false", "no", "off"):
        return EdgeConfig.off()
    return EdgeConfig.from_env()


def worker_app() -> Any:
    """App factory for multi-worker mode (each worker process builds its own router)."""
    from media_gateway.platform.logging import RequestIdMiddleware

    from .edge.config import graphiql_enabled
    from .forwarding import forwards_from_env
    from .server import GatewayConfig, create_gateway_app

    _configure_logging()
    labels = tuple(x for x in os.environ.get("OVERRIDE_LABELS", "").split(",") if x)
    return RequestIdMiddleware(
        create_gateway_app(
            GatewayConfig(
                supergraph_path=Path(os.environ["MEDIA_GATEWAY_SUPERGRAPH"]),
                override_labels=labels,
                graphiql=graphiql_enabled(),
                edge=edge_config(),
                authenticator=authenticator_from_env(),
                forwards=forwards_from_env(),
            )
        )
    )


def run_plan(args: argparse.Namespace) -> int:
    import asyncio
    import concurrent.futures
    import json

    from .pipeline import GraphQLRequest, GraphQLResponse, Pipeline
    from .supergraph import Supergraph

    pipeline = Pipeline.for_supergraph(
        Supergraph(args.supergraph.read_text()), override_labels=_labels(args)
    )
    text = args.query
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    request = GraphQLRequest(
        {"query": text, "operationName": args.operation_name},
        {},
        {},
        subscriptions=True,
        plan_only=True,
    )
    # its own event loop, on a thread of its own (the caller may be running one already)
    with concurrent.futures.ThreadPoolExecutor(1) as worker:
        prepared = worker.submit(asyncio.run, pipeline.prepare(request)).result()
    if isinstance(prepared, GraphQLResponse):
        for e in prepared.body.get("errors") or ():
            print(f"error: {e.get('message')}", file=sys.stderr)
        return 2
    plan = prepared.plan
    print(json.dumps(plan.to_json(), indent=2) if args.json else plan.to_text())
    return 0
