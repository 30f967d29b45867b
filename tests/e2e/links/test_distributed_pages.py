"""The distributed mode: the identity service runs on its own and the gateway forwards the
pages, OAuth endpoints, discovery documents and JWKS to it with the very `GATEWAY_FORWARD`
that `docker-compose.yml` sets. A TV signs in through the gateway's address only: the code,
the sign-in page, the approval and the tokens."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
import yaml

from media_gateway.app.serve import load_supergraph
from media_gateway.assembly.base import Runtime
from media_gateway.assembly.identity import create as create_identity
from media_gateway.gateway.forwarding import parse_forwards
from media_gateway.gateway.server import GatewayConfig, create_gateway_app
from media_gateway.platform.settings import Settings

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"
GATEWAY = "http://gateway.example"
PASSWORD = "violet lanterns drift over quiet harbours"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def identity_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`media-gateway subgraph identity` on loopback, its links under the gateway's address."""
    data = tmp_path_factory.mktemp("identity")
    settings = Settings.from_env(
        {
            "MEDIA_GATEWAY_DATA_DIR": str(data),
            "MEDIA_GATEWAY_SEED_DEMO": "false",
            "PUBLIC_URL": GATEWAY,
            "LOG_LEVEL": "WARNING",
        }
    )
    subgraph = create_identity(Runtime.create(settings))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(subgraph.asgi_app(), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the identity service did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
async def gateway(identity_url: str) -> AsyncIterator[httpx.AsyncClient]:
    compose = yaml.safe_load(COMPOSE.read_text())
    forwards = compose["services"]["gateway-1"]["environment"]["GATEWAY_FORWARD"]
    app = create_gateway_app(
        GatewayConfig(
            supergraph_sdl=load_supergraph(),
            forwards=parse_forwards(forwards.replace("http://identity:4001", identity_url)),
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=GATEWAY, timeout=30) as client:
        yield client


def _path(link: str) -> str:
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == GATEWAY, link
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def test_a_tv_signs_in_through_the_gateways_address(
    gateway: httpx.AsyncClient, identity_url: str
) -> None:
    email = f"viewer-{time.monotonic_ns()}@example.com"
    async with httpx.AsyncClient(base_url=identity_url) as identity:
        registered = await identity.post(
            "/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { register(input: {email: $e, "
                'password: $p, displayName: "A viewer"}) { id } }',
                "variables": {"e": email, "p": PASSWORD},
            },
        )
        assert "errors" not in registered.json(), registered.text

    grant = (
        await gateway.post("/oauth/device_authorization", data={"client_id": "media-gateway-tv"})
    ).json()
    assert grant["verification_uri"] == f"{GATEWAY}/activate"
    to_login = await gateway.get(_path(grant["verification_uri_complete"]))
    assert to_login.status_code == 303
    login = await gateway.get(_path(to_login.headers["location"]))
    assert login.status_code == 200 and "Sign in" in login.text
    signed_in = await gateway.post(
        "/login",
        data={
            "csrf_token": _csrf(login),
            "email": email,
            "password": PASSWORD,
            "next": f"/activate?user_code={grant['user_code']}",
        },
    )
    assert signed_in.status_code == 303, signed_in.text
    confirm = await gateway.get(_path(signed_in.headers["location"]))
    assert confirm.status_code == 200 and "Media Gateway for TV" in confirm.text
    approved = await gateway.post(
        "/activate",
        data={
            "csrf_token": _csrf(confirm),
            "user_code": grant["user_code"],
            "decision": "approve",
        },
    )
    assert approved.status_code == 200 and "is now signed in" in approved.text
    tokens = await gateway.post(
        "/oauth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": grant["device_code"],
            "client_id": "media-gateway-tv",
        },
    )
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["access_token"]


async def test_the_discovery_documents_and_keys_answer_at_the_gateway(
    gateway: httpx.AsyncClient,
) -> None:
    metadata = (await gateway.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == GATEWAY
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        answer = await gateway.get(_path(metadata[key]))
        assert answer.status_code != 404, key
    assert (await gateway.get("/.well-known/jwks.json")).json()["keys"]
    assert (await gateway.get("/.well-known/openid-configuration")).status_code == 200
    for page in ("/verify-email", "/reset-password", "/login"):
        assert (await gateway.get(page)).status_code == 200, page
