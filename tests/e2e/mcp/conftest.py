"""Fixtures: the platform behind the embedded gateway, served by uvicorn on this test's
event loop (its `/mcp` endpoint offering the platform's operation set), a member with an
API key and a TV that takes remote commands, and MCP clients of the official SDK."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp.client import ClientSession
from mcp.client.streamable_http import streamable_http_client

from media_gateway.app.serve import MCP_OPERATIONS as OPERATIONS
from media_gateway.gateway.mcp.config import McpConfig

try:
    from tests.e2e.security.conftest import (
        Client,
        api_key,
        error_codes,
        gateway,
        identity_app,
        member,
        platform,
        profile_token,
        settings,
        supergraph_sdl,
    )
except ImportError:  # pragma: no cover
    from e2e.security.conftest import (  # type: ignore[no-redef,unused-ignore]
        Client,
        api_key,
        error_codes,
        gateway,
        identity_app,
        member,
        platform,
        profile_token,
        settings,
        supergraph_sdl,
    )

__all__ = [
    "Client",
    "api_key",
    "error_codes",
    "gateway",
    "identity_app",
    "member",
    "platform",
    "profile_token",
    "settings",
    "supergraph_sdl",
]

WRITE_SCOPES = [
    "catalog:read",
    "identity:read",
    "playback:read",
    "recommendations:read",
    "sync:read",
    "sync:write",
]


@dataclass
class Served:
    url: str
    headers: dict[str, str]


@contextlib.asynccontextmanager
async def serve_app(app: Any) -> AsyncIterator[str]:
    """`app` served by uvicorn as a task of this event loop (the platform's database and
    bus belong to it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "the gateway did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


ServeGateway = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve_gateway(platform: Any, supergraph_sdl: str) -> AsyncIterator[ServeGateway]:
    from media_gateway.app.serve import build_gateway_app

    async with contextlib.AsyncExitStack() as stack:

        async def start(*, mutations: bool = True) -> str:
            config = McpConfig(operations=OPERATIONS, mutations=mutations)
            app = build_gateway_app(platform, supergraph_sdl, mcp=config)
            return await stack.enter_async_context(serve_app(app))

        yield start


@dataclass
class Viewer:
    token: str
    api_key: str
    tv: str


async def register_tv(gateway: Client, token: str) -> str:
    body = await gateway(
        """mutation { registerDevice(name: "Living room TV", kind: TV,
             capabilities: [REMOTE_CONTROL]) { id } }""",
        token=token,
    )
    assert "errors" not in body, body
    return str(body["data"]["registerDevice"]["id"])


@pytest.fixture
async def viewer(gateway: Client, member: dict[str, Any]) -> Viewer:
    """A member with an API key that may change the watchlist and command devices, and a TV
    that takes remote commands."""
    token = member["token"]
    key = await api_key(gateway, token, WRITE_SCOPES)
    return Viewer(token, key, await register_tv(gateway, token))


@contextlib.asynccontextmanager
async def connect_http(
    url: str, headers: dict[str, str] | None = None, **session: Any
) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=60) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1], **session) as client,
    ):
        await client.initialize()
        yield client


async def pending_commands(gateway: Client, token: str, device: str) -> list[dict[str, Any]]:
    body = await gateway(
        "query($d: ID!) { syncState(deviceId: $d) { pendingCommands { type targetDeviceId } } }",
        {"d": device},
        token=token,
    )
    assert "errors" not in body, body
    return list(body["data"]["syncState"]["pendingCommands"])


def unique() -> str:
    return uuid.uuid4().hex[:8]
