"""Operator endpoints of the edge: `/metrics`, circuit breakers, query plans by trace id."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

if TYPE_CHECKING:
    from .pipeline import Edge


def edge_routes(edge: Edge) -> list[BaseRoute]:
    async def metrics(request: Request) -> Response:
        body, content_type = edge.telemetry.exposition()
        return Response(body, media_type=content_type)

    async def breakers(request: Request) -> Response:
        body = {name: b.to_json() for name, b in sorted(edge.breakers.items())}
        return Response(orjson.dumps({"subgraphs": body}), media_type="application/json")

    async def plan(request: Request) -> Response:
        record = edge.telemetry.plans.get(request.path_params["trace_id"].lower())
        if record is None:
            return Response(
                orjson.dumps({"error": "no plan kept for this trace id"}),
                status_code=404,
                media_type="application/json",
            )
        return Response(orjson.dumps(record), media_type="application/json")

    routes: list[BaseRoute] = []
    if edge.config.resilience:
        routes.append(Route("/health/subgraphs", breakers, methods=["GET"]))
    if edge.config.tracing:
        routes.append(Route("/plans/{trace_id}", plan, methods=["GET"]))
    if edge.config.metrics:
        routes.append(Route("/metrics", metrics, methods=["GET"]))
    return routes
