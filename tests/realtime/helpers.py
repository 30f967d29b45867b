"""A real gateway on a loopback port, and minimal clients for every subscription protocol."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import uvicorn
import websockets

from media_gateway.app import Platform
from media_gateway.app.serve import build_gateway_app, load_supergraph


def listening_socket(port: int = 0) -> socket.socket:
    """A socket bound on 127.0.0.1 (port 0: one the system picks, so that tests running
    side by side never race for the same port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class Gateway:
    """The gateway (in-process subgraphs) served by uvicorn on 127.0.0.1."""

    def __init__(self, platform: Platform, port: int | None = None) -> None:
        self.platform = platform
        self.port = port or 0  # 0: picked when the gateway first starts
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None
        self.app_factory: Any = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    async def start(self) -> None:
        app = (
            self.app_factory()
            if self.app_factory is not None
            else build_gateway_app(self.platform, load_supergraph(), graphiql=False)
        )
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        sock = listening_socket(self.port)
        self.port = sock.getsockname()[1]  # a restart listens on the same port again
        self.task = asyncio.create_task(self.server.serve(sockets=[sock]))
        for _ in range(200):
            if self.server.started:
                return
            await asyncio.sleep(0.02)
        raise RuntimeError("gateway did not start")

    def streaming(self) -> Any:
        """The gateway's streaming endpoints (to look at shared upstreams)."""
        assert self.server is not None
        app: Any = self.server.config.app
        while not hasattr(app, "state") and hasattr(app, "app"):
            app = app.app
        return app.state.streaming

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, 10)
        self.server = self.task = None

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                self.http_url, json={"query": query, "variables": variables or {}}, headers=headers
            )
        body: dict[str, Any] = response.json()
        return body


class WsClient:
    """A graphql-transport-ws (or legacy graphql-ws) client."""

    def __init__(self, protocol: str = "graphql-transport-ws") -> None:
        self.protocol = protocol
        self.ws: Any = None

    async def connect(self, url: str, token: str | None) -> None:
        self.ws = await websockets.connect(url, subprotocols=[self.protocol])  # type: ignore[list-item]
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await self.send({"type": "connection_init", "payload": payload})
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        while True:
            message: dict[str, Any] = orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message.get("type") not in ("ka", "ping", "pong"):
                return message

    async def subscribe(
        self, query: str, variables: dict[str, Any] | None = None, op_id: str | None = None
    ) -> str:
        op_id = op_id or uuid.uuid4().hex[:8]
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        await self.send(
            {"id": op_id, "type": kind, "payload": {"query": query, "variables": variables or {}}}
        )
        return op_id

    async def next_payload(self, timeout: float = 10) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] in ("next", "data"), message
        payload: dict[str, Any] = message["payload"]
        return payload

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await asyncio.wait_for(self.ws.recv(), seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message: {message}")

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


async def sse_events(
    url: str, query: str, variables: dict[str, Any], token: str
) -> AsyncIterator[dict[str, Any]]:
    """The `next` payloads of a GraphQL-over-SSE subscription."""
    headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30, read=30)) as http,
        http.stream(
            "POST", url, json={"query": query, "variables": variables}, headers=headers
        ) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "next":
                yield orjson.loads(line[5:].strip())
            elif event == "complete":
                return


async def multipart_parts(
    url: str, query: str, variables: dict[str, Any], token: str
) -> AsyncIterator[dict[str, Any]]:
    """The JSON parts (heartbeats excluded) of an Apollo multipart subscription."""
    headers = {
        "authorization": f"Bearer {token}",
        "accept": 'multipart/mixed;subscriptionSpec="1.0", application/json',
    }
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30, read=30)) as http,
        http.stream(
            "POST", url, json={"query": query, "variables": variables}, headers=headers
        ) as response,
    ):
        assert response.headers["content-type"].startswith("multipart/mixed")
        buffer = b""
        async for chunk in response.aiter_bytes():
            buffer += chunk
            while True:
                start = buffer.find(b"\r\n\r\n")
                end = buffer.find(b"\r\n--graphql", start + 4) if start >= 0 else -1
                if start < 0 or end < 0:
                    break
                part = orjson.loads(buffer[start + 4 : end])
                buffer = buffer[end:]
                if part:
                    yield part


# operations the suites through a live gateway share
PROGRESS = """
subscription($device: ID, $since: String) {
  playbackProgress(deviceId: $device, since: $since) {
    cursor deviceId positionSeconds state
    content { id title availability { deepLink } }
  }
}
"""
START = """
mutation($c: ID!, $d: ID!) { startPlayback(contentId: $c, deviceId: $d, durationSeconds: 7200) {
  id } }
"""
UPDATE = """
mutation($s: ID!, $p: Int!) { updatePlaybackProgress(sessionId: $s, positionSeconds: $p,
  state: PLAYING) { positionSeconds } }
"""
TITLE = "movie:arrival-2016"
COMMANDS = """
subscription($device: ID!, $since: String) {
  remoteCommands(deviceId: $device, since: $since) {
    id cursor type positionSeconds targetDeviceId content { id title }
  }
}
"""
SEND = """
mutation($target: ID!, $command: RemoteCommandInput!, $ttl: Int!) {
  sendRemoteCommand(targetDeviceId: $target, command: $command, ttlSeconds: $ttl) {
    id cursor type expiresAt
  }
}
"""
