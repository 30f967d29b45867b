"""The platform as ``media-gateway serve`` runs it (the gateway and every subgraph in one
process, the identity service's pages mounted), served on loopback for browser tests, with
the console mailbox read back and a third-party app's redirect target to land on."""

from __future__ import annotations

import asyncio
import http.server
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn

from media_gateway.app import Platform
from media_gateway.app.serve import build_gateway_app, load_supergraph
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings

T = TypeVar("T")
CONSOLE_MAIL = "media_gateway.email.console"
CPU_BUDGET = "GATEWAY_CPU_BUDGET_SECONDS"
LINK = re.compile(r"(https?://\S+)")


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Mailbox(logging.Handler):
    """The console mail (what a newcomer reads in the terminal), message by message."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def link(self, recipient: str, path: str, timeout: float = 30.0) -> str:
        """The newest link to ``path`` in a message to ``recipient``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self.messages):
                if f"email to {recipient}:" not in message:
                    continue
                for link in LINK.findall(message):
                    if urlsplit(link).path == path:
                        return str(link)
            time.sleep(0.1)
        raise AssertionError(f"no {path} link was mailed to {recipient}: {self.messages!r}")


@dataclass
class ServedPlatform:
    data_dir: Path
    environment: dict[str, str] = field(default_factory=dict)
    graphiql: bool = False

    def start(self) -> None:
        self.sock = free_socket()
        port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.settings = Settings.from_env(
            {
                "MEDIA_GATEWAY_DATA_DIR": str(self.data_dir),
                "LOG_LEVEL": "WARNING",
                "MEDIA_GATEWAY_SEED_DEMO": "false",
                "PUBLIC_URL": self.url,
                **self.environment,
            }
        )
        self.mailbox = Mailbox()
        console = logging.getLogger(CONSOLE_MAIL)
        console.addHandler(self.mailbox)
        console.setLevel(logging.INFO)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        if not self._ready.wait(300) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the platform did not start: {self._failure!r}")
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self.platform = Platform.create(Runtime.create(self.settings))
        await self.platform.startup()
        try:
            # the router's CPU budget per new document guards production against costly
            # documents; on a loaded test machine it would refuse this harness's own calls
            saved = os.environ.get(CPU_BUDGET)
            os.environ[CPU_BUDGET] = "60"
            try:
                app = build_gateway_app(self.platform, load_supergraph(), graphiql=self.graphiql)
            finally:
                if saved is None:
                    os.environ.pop(CPU_BUDGET, None)
                else:
                    os.environ[CPU_BUDGET] = saved
            self.server = uvicorn.Server(
                uvicorn.Config(app, log_level="warning", lifespan="off")  # type: ignore[arg-type]
            )
            serving = asyncio.ensure_future(self.server.serve(sockets=[self.sock]))
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.05)
            self._ready.set()
            await serving
        finally:
            await self.platform.shutdown()

    def stop(self) -> None:
        logging.getLogger(CONSOLE_MAIL).removeHandler(self.mailbox)
        if getattr(self, "http", None) is not None:
            self.http.close()
        server = getattr(self, "server", None)
        if server is not None:
            server.should_exit = True
        if getattr(self, "thread", None) is not None:
            self.thread.join(timeout=30)
        self.sock.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the platform's event loop (to look at its state)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    def register(self, email: str, password: str) -> str:
        """A new account, signed in: its access token."""
        registered = self.graphql(
            "mutation($e: String!, $p: String!) { register(input: {email: $e, password: $p, "
            'displayName: "A viewer"}) { id } }',
            {"e": email, "p": password},
        )
        assert "errors" not in registered, registered
        return self.sign_in(email, password)

    def sign_in(self, email: str, password: str) -> str:
        signed_in = self.graphql(
            "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) "
            "{ accessToken } }",
            {"e": email, "p": password},
        )
        assert "errors" not in signed_in, signed_in
        return str(signed_in["data"]["login"]["accessToken"])


class ThirdPartyApp:
    """A third-party app's redirect target on loopback: it records what it was sent back."""

    def __init__(self) -> None:
        received: list[dict[str, list[str]]] = []
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path == "/callback":  # not the browser's favicon
                    received.append(parse_qs(urlsplit(self.path).query))
                body = b"<!doctype html><title>Example App</title><h1 id='app'>Example App</h1>"
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
