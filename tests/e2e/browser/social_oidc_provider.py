"""A real OpenID provider for the social sign-in tests, and the platform configured to sign
in at it.

The provider is the ``oidc-provider`` package (``oidc/provider.mjs``, installed by
``scripts/setup.sh --dev``) in a node process on a free loopback port, with one registered
client (this site) and test accounts. ``SocialSite`` serves the whole platform (gateway and
pages, as ``media-gateway serve`` does) on another port, with ``OIDC_PROVIDERS`` naming the
provider twice ("local" and "other", two ways to sign in at the same provider).
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import secrets
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
import uvicorn

from media_gateway.app import Platform
from media_gateway.app.serve import build_gateway_app, load_supergraph
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "media-gateway-test"
PASSWORD = "correct horse battery staple"
PROVIDER_NAMES = {"local": "Test provider", "other": "Other provider"}
T = TypeVar("T")


def provider_skip_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (the test OpenID provider runs on node)"
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return "the test OpenID provider is not installed (run scripts/setup.sh --dev)"
    return None


@dataclass(frozen=True)
class ProviderAccount:
    sub: str
    email: str
    email_verified: bool
    name: str
    password: str = PASSWORD


def accounts() -> dict[str, ProviderAccount]:
    """The provider's accounts, with emails of their own in every run."""
    run = uuid.uuid4().hex[:8]
    made = [
        ProviderAccount("sub-new", f"new-{run}@example.com", True, "New Viewer"),
        ProviderAccount("sub-existing", f"existing-{run}@example.com", True, "Existing Viewer"),
        ProviderAccount("sub-unverified", f"unverified-{run}@example.com", False, "Unverified"),
        ProviderAccount("sub-social", f"social-{run}@example.com", True, "Social Viewer"),
        ProviderAccount("sub-http", f"http-{run}@example.com", True, "Http Viewer"),
        ProviderAccount("sub-locked", f"locked-{run}@example.com", True, "Locked Viewer"),
        ProviderAccount("sub-mfa", f"mfa-{run}@example.com", True, "Careful Viewer"),
        ProviderAccount("sub-next", f"next-{run}@example.com", True, "Returning Viewer"),
    ]
    return {account.sub: account for account in made}


class OpenIdProvider:
    """The node provider process: started with the redirect URIs of its one client."""

    def __init__(self, redirect_uris: list[str], provider_accounts: dict[str, ProviderAccount]):
        self.client_secret = secrets.token_urlsafe(32)
        config = {
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": self.client_secret,
                    "redirect_uris": redirect_uris,
                }
            ],
            "accounts": {
                sub: {
                    "email": a.email,
                    "email_verified": a.email_verified,
                    "name": a.name,
                    "password": a.password,
                }
                for sub, a in provider_accounts.items()
            },
        }
        self.process = subprocess.Popen(
            ["node", "provider.mjs"],
            cwd=OIDC_DIR,
            env={**os.environ, "OIDC_TEST_CONFIG": json.dumps(config)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            first = lines.get(timeout=30)
        except queue.Empty:
            self.stop()
            raise RuntimeError("the test OpenID provider did not start") from None
        if not first:
            self.stop()
            raise RuntimeError("the test OpenID provider exited at start")
        self.issuer: str = json.loads(first)["issuer"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class SocialSite:
    """The platform served on loopback, configured for social sign-in at ``provider``."""

    data_dir: Path
    provider_accounts: dict[str, ProviderAccount] = field(default_factory=accounts)

    def start(self) -> None:
        self.sock = free_socket()
        port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.provider = OpenIdProvider(
            [f"{self.url}/login/{name}/callback" for name in PROVIDER_NAMES],
            self.provider_accounts,
        )
        self.settings = Settings.from_env(
            {
                "MEDIA_GATEWAY_DATA_DIR": str(self.data_dir),
                "LOG_LEVEL": "WARNING",
                "MEDIA_GATEWAY_SEED_DEMO": "false",
                "PUBLIC_URL": self.url,
                "OIDC_PROVIDERS": json.dumps(
                    {
                        name: {
                            "issuer": self.provider.issuer,
                            "client_id": CLIENT_ID,
                            "client_secret": self.provider.client_secret,
                            "display_name": display,
                        }
                        for name, display in PROVIDER_NAMES.items()
                    }
                ),
            }
        )
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        if not self._ready.wait(300) or self._failure is not None:
            self.stop()
            raise RuntimeError(f"the platform did not start: {self._failure!r}")

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
            app = build_gateway_app(self.platform, load_supergraph(), graphiql=False)
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
        server = getattr(self, "server", None)
        if server is not None:
            server.should_exit = True
        if getattr(self, "thread", None) is not None:
            self.thread.join(timeout=30)
        provider = getattr(self, "provider", None)
        if provider is not None:
            provider.stop()
        self.sock.close()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the platform's event loop (to look at its state)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def register(self, email: str, password: str = PASSWORD) -> None:
        body = self.graphql(
            """mutation($email: String!, $password: String!) {
                 register(input: {email: $email, password: $password,
                                  displayName: "Existing Viewer"}) { id } }""",
            {"email": email, "password": password},
        )
        assert "errors" not in body, body


def sign_in_at_provider(
    client: httpx.Client, start: str, email: str, password: str = PASSWORD, *, cancel: bool = False
) -> str:
    """Follow a sign-in from ``start`` (the site's ``/login/{provider}``) through the
    provider's own sign-in page, as a browser would, up to the site's callback; the callback
    URL (not yet visited). ``client`` keeps both sites' cookies."""
    response = client.get(start)
    assert response.status_code == 303, response.text
    return follow_provider(
        client, response.headers["location"], urlsplit(start).netloc, email, password, cancel
    )


def follow_provider(
    client: httpx.Client,
    location: str,
    site: str,
    email: str,
    password: str = PASSWORD,
    cancel: bool = False,
) -> str:
    """From the provider's authorization URL ``location`` to the redirect back to ``site``
    (host:port): signing in on the provider's page (or cancelling there)."""
    for _ in range(12):
        if urlsplit(location).netloc == site:
            return location
        response = client.get(location)
        if response.status_code == 200 and "/login" in response.text:
            action = location.split("?")[0].rstrip("/") + ("/abort" if cancel else "/login")
            response = client.post(
                action, data={} if cancel else {"email": email, "password": password}
            )
        assert response.status_code in (302, 303), response.text
        location = urljoin(location, response.headers["location"])
    raise AssertionError("the provider did not come back to the site")


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)
