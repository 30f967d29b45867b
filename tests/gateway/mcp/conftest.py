"""A gateway over the library's subgraphs (in-process), served by uvicorn with its `/mcp`
endpoint, and MCP clients of the official SDK connected to it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp.client import ClientSession
from mcp.client.streamable_http import streamable_http_client

from media_gateway.gateway.mcp.config import McpConfig
from media_gateway.gateway.server import create_app

from ..helpers import Subgraphs, supergraph_sdl

OPERATIONS = Path(__file__).parent / "operations"


class Served:
    """An ASGI app served by uvicorn (lifespan on) in a thread, on a port the OS chose."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
        )
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the gateway did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def endpoint_of(served: Served) -> Any:
    """The MCP endpoint of a served gateway (its `McpGateway` is `.gateway`)."""
    app = served.server.config.app
    return next(r.endpoint for r in app.routes if getattr(r, "path", "") == "/mcp")


def library_app(config: McpConfig) -> Any:
    return create_app(
        supergraph_sdl("library"), Subgraphs("in-process", None).clients(), mcp=config
    )


@pytest.fixture
def serve() -> Iterator[Callable[[McpConfig], Served]]:
    with contextlib.ExitStack() as stack:

        def start(config: McpConfig) -> Served:
            return stack.enter_context(Served(library_app(config)))

        yield start


@contextlib.asynccontextmanager
async def connect(
    url: str, headers: dict[str, str] | None = None, **session: Any
) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=30) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1], **session) as client,
    ):
        await client.initialize()
        yield client
