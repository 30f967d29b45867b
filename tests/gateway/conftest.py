"""Fixtures: the library's subgraphs in-process and over HTTP, and gateways in front of them.

Over HTTP, every subgraph is served by one uvicorn server (started once per session on a
port chosen by the OS) under `/<name>`, beside misbehaving endpoints under `/broken/...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL

from media_gateway.gateway.clients import SubgraphClient
from media_gateway.gateway.server import create_app

from .helpers import TRANSPORTS, Endpoints, Gateway, Subgraphs, supergraph_sdl
from .library import SUBGRAPHS, data


def _subgraph_app() -> Starlette:
    async def status_500(request: Request) -> Response:
        return PlainTextResponse("Internal Server Error", status_code=500)

    async def garbage(request: Request) -> Response:
        return Response(b"{this is not json", media_type="application/json")

    async def not_graphql(request: Request) -> Response:
        return JSONResponse({"hello": "world"})

    routes = [Route(f"/{name}", GraphQL(schema)) for name, schema in SUBGRAPHS.items()]
    routes += [
        Route("/broken/500", status_500, methods=["POST"]),
        Route("/broken/garbage", garbage, methods=["POST"]),
        Route("/broken/not-graphql", not_graphql, methods=["POST"]),
    ]
    return Starlette(routes=routes)


class _ServerThread:
    """uvicorn in a background thread, on a socket bound to a port the OS chose."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the subgraph server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    server = _ServerThread(_subgraph_app())
    server.start()
    # bound but never listening: connecting is refused
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    refused = f"http://127.0.0.1:{closed.getsockname()[1]}/graphql"
    try:
        yield Endpoints(f"http://127.0.0.1:{server.port}", refused)
    finally:
        closed.close()
        server.stop()


@pytest.fixture(autouse=True)
def library_state() -> data.State:
    """Fresh stock, reviews, mutation events and timeline for every test."""
    data.reset()
    return data.state()


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def subgraphs(transport: str, request: pytest.FixtureRequest) -> AsyncIterator[Subgraphs]:
    endpoints = request.getfixturevalue("endpoints") if transport == "http" else None
    made = Subgraphs(transport, endpoints)
    try:
        yield made
    finally:
        await made.aclose()


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(subgraphs: Subgraphs) -> AsyncIterator[GatewayFactory]:
    """Builds gateways (the Starlette app, lifespan running) over the library supergraph."""
    stack = contextlib.AsyncExitStack()

    async def make(
        *,
        supergraph: str = "library",
        clients: Mapping[str, SubgraphClient] | None = None,
        override_labels: tuple[str, ...] = (),
    ) -> Gateway:
        app = create_app(
            supergraph_sdl(supergraph),
            clients if clients is not None else subgraphs.clients(),
            override_labels=override_labels,
        )
        await stack.enter_async_context(app.router.lifespan_context(app))
        gateway = Gateway(app)
        stack.push_async_callback(gateway.aclose)
        return gateway

    async with stack:
        yield make


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> Gateway:
    """The library gateway, parametrized over both subgraph transports."""
    return await make_gateway()
