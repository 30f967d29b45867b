"""Path forwarding (`GATEWAY_FORWARD`): configured paths reach an upstream service over HTTP
unchanged (method, path, query, body, cookies both ways, redirects not followed), the client
address goes along as `X-Forwarded-For`, the router's own routes win, and an upstream that does
not answer is a 502, never a traceback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from media_gateway.gateway.forwarding import (
    Forward,
    ForwardingError,
    forwards_from_env,
    parse_forwards,
)
from media_gateway.gateway.server import GatewayConfig, create_gateway_app

from .conftest import _ServerThread
from .helpers import supergraph_sdl


def _upstream() -> Starlette:
    async def echo(request: Request) -> Response:
        response = JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": request.url.query,
                "body": (await request.body()).decode(),
                "cookie": request.cookies.get("session"),
                "forwarded_for": request.headers.get("x-forwarded-for"),
                "forwarded_host": request.headers.get("x-forwarded-host"),
            },
            status_code=201 if request.method == "POST" else 200,
        )
        response.set_cookie("first", "1")
        response.set_cookie("second", "2")
        return response

    async def moved(_: Request) -> Response:
        return RedirectResponse("/pages/elsewhere", status_code=303)

    return Starlette(
        routes=[
            Route("/pages/moved", moved),
            Route("/pages", echo, methods=["GET", "POST"]),
            Route("/pages/{rest:path}", echo, methods=["GET", "POST"]),
            Route("/health", echo),
            Route("/exact.json", echo),
        ]
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    server = _ServerThread(_upstream())
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


@pytest.fixture
async def gateway(upstream: str) -> AsyncIterator[httpx.AsyncClient]:
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    down = f"http://127.0.0.1:{closed.getsockname()[1]}"
    app = create_gateway_app(
        GatewayConfig(
            supergraph_sdl=supergraph_sdl("library"),
            forwards=parse_forwards(
                f"/pages={upstream} /exact.json={upstream} /health={upstream} /gone={down}"
            ),
        )
    )
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
    closed.close()


async def test_a_forwarded_path_reaches_the_upstream_unchanged(
    gateway: httpx.AsyncClient,
) -> None:
    answer = await gateway.post(
        "/pages/activate?user_code=BCDF-GHJK",
        content=b"a=1&b=2",
        headers={"content-type": "application/x-www-form-urlencoded", "cookie": "session=s1"},
    )
    assert answer.status_code == 201
    assert answer.json() == {
        "method": "POST",
        "path": "/pages/activate",
        "query": "user_code=BCDF-GHJK",
        "body": "a=1&b=2",
        "cookie": "s1",
        "forwarded_for": "203.0.113.7",
        "forwarded_host": "gateway",
    }
    assert sorted(c.split("=")[0] for c in answer.headers.get_list("set-cookie")) == [
        "first",
        "second",
    ]
    assert (await gateway.get("/pages")).json()["path"] == "/pages"
    assert (await gateway.get("/exact.json")).json()["path"] == "/exact.json"


async def test_redirects_come_back_to_the_client(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/pages/moved")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/pages/elsewhere"


async def test_the_routers_own_routes_come_first(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/health")
    assert answer.status_code == 200
    assert "path" not in answer.json()


async def test_paths_not_configured_are_not_forwarded(gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/pagesx")).status_code == 404
    assert (await gateway.get("/exact.jsonx")).status_code == 404


async def test_an_upstream_that_does_not_answer_is_a_502(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.get("/gone/page")
    assert answer.status_code == 502
    assert "Traceback" not in answer.text


def test_the_configuration_is_checked() -> None:
    assert parse_forwards("/oauth/=http://identity:4001 /login=https://id.example") == (
        Forward("/oauth", "http://identity:4001"),
        Forward("/login", "https://id.example"),
    )
    assert forwards_from_env({}) == ()
    for wrong in ("/oauth", "oauth=http://x", "/a=ftp://x", "/a=", "//a=http://x"):
        with pytest.raises(ForwardingError):
            parse_forwards(wrong)
