"""Each subgraph as its own service: health, readiness, request ids, JSON logs, SDL, CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from media_gateway.app import DEFAULT_PORTS, SUBGRAPHS, Platform, subgraph_sdls
from media_gateway.assembly.base import Runtime
from media_gateway.platform.logging import JsonFormatter, RequestIdFilter
from media_gateway.platform.settings import Settings

from .conftest import GraphQLClient


def test_every_subgraph_prints_federation_sdl() -> None:
    sdls = subgraph_sdls()
    assert [name for name, _, _ in sdls] == [
        "identity",
        "catalog",
        "recommendations",
        "playback",
        "sync",
    ]
    for name, url, sdl in sdls:
        assert url == f"http://127.0.0.1:{DEFAULT_PORTS[name]}/graphql"
        assert "https://specs.apollo.dev/federation/v2" in sdl
    by_name = {name: sdl for name, _, sdl in sdls}
    assert 'type User @key(fields: "id")' in by_name["identity"]
    assert 'interface Content @key(fields: "id")' in by_name["catalog"]
    for name in ("playback", "recommendations", "sync"):
        assert "@interfaceObject" in by_name[name]


async def test_ready_is_503_while_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "MEDIA_GATEWAY_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:5199/none",
        }
    )
    runtime = Runtime.create(settings)
    subgraph = SUBGRAPHS["catalog"](runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=subgraph.asgi_app()), base_url="http://s"
    ) as http:
        assert (await http.get("/health")).status_code == 200
        ready = await http.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    await runtime.close()


async def test_request_id_is_echoed_and_logged(
    platform: Platform, clients: dict[str, GraphQLClient], caplog: pytest.LogCaptureFixture
) -> None:
    http = clients["catalog"].http
    response = await http.post(
        "/graphql", json={"query": "{ genres { name } }"}, headers={"x-request-id": "req-123"}
    )
    assert response.headers["x-request-id"] == "req-123"
    generated = await http.get("/health")
    assert len(generated.headers["x-request-id"]) == 32

    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    from media_gateway.platform.logging import request_id_scope

    with request_id_scope("abc"):
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello there" and line["request_id"] == "abc"

    context = await platform["catalog"].context({"x-request-id": "from-gateway"})
    assert context.request_id == "from-gateway"


def test_cli_registers_the_commands() -> None:
    from media_gateway.cli import build_parser

    parser = build_parser("subgraph")
    args = parser.parse_args(["subgraph", "catalog", "--port", "5123"])
    assert (args.name, args.port, args.host) == ("catalog", 5123, "127.0.0.1")
    parser = build_parser("import")
    args = parser.parse_args(["import", "movielens", "/some/where"])
    assert args.path == "/some/where" and callable(args.func)
    assert callable(build_parser("migrate").parse_args(["migrate"]).func)
    serve = build_parser("serve").parse_args(["serve"])
    assert (serve.host, serve.port) == ("127.0.0.1", 4000)
