"""Redis configured but unreachable: the product starts, says which service is missing,
falls back (limits in process, codes in the database), and no client ever sees an internal
address."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD
from media_gateway.platform.settings import Settings

from .conftest import LOGIN, PASSWORD, REGISTER, Client, error_codes, identity_services, login


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again once the socket is


CLOSED_REDIS = f"redis://127.0.0.1:{_closed_port()}/0"
INTERNAL = ("127.0.0.1", "6379", "redis://", "Error 111", "Connection refused")


def _assert_nothing_internal(body: dict[str, Any]) -> None:
    text = json.dumps(body.get("errors", []))
    for fragment in INTERNAL:
        assert fragment not in text, body


@pytest.fixture
async def redis_down(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.create(
        Runtime.create(dataclasses.replace(settings, redis_url=CLOSED_REDIS))
    )
    await platform.startup()  # does not raise
    try:
        yield platform
    finally:
        await platform.shutdown()


@pytest.fixture
async def gateway_redis_down(redis_down: Platform, supergraph_sdl: str) -> AsyncIterator[Client]:
    from media_gateway.app.serve import build_gateway_app

    client = Client(build_gateway_app(redis_down, supergraph_sdl), "http://gateway")
    yield client
    await client.aclose()


async def test_sign_in_works_and_limits_fall_back_to_the_process(
    redis_down: Platform, gateway_redis_down: Client
) -> None:
    gateway = gateway_redis_down
    session = await login(gateway, DEMO_EMAIL, DEMO_PASSWORD)
    assert session["accessToken"]
    email = f"fallback-{uuid.uuid4().hex[:8]}@example.com"
    created = await gateway(REGISTER, {"email": email, "password": PASSWORD, "name": "F"})
    assert "errors" not in created, created
    policy = identity_services(redis_down["identity"]).sign_in.policy
    codes = []
    for n in range(policy.free_failures + 1):
        body = await gateway(LOGIN, {"email": email, "password": f"wrong {n}"})
        _assert_nothing_internal(body)
        codes.append(error_codes(body)[0])
    assert codes[-1] == "RATE_LIMITED"  # still limited, counted in this process
    assert set(codes[:-1]) == {"UNAUTHENTICATED"}


async def test_short_lived_codes_fall_back_to_the_database(gateway_redis_down: Client) -> None:
    body = await gateway_redis_down(
        "mutation($c: String!) { startDeviceAuthorization(clientId: $c) { deviceCode } }",
        {"c": "media-gateway-tv"},
    )
    _assert_nothing_internal(body)
    assert "errors" not in body, body
    poll = await gateway_redis_down(
        "mutation($d: String!) { pollDeviceAuthorization(deviceCode: $d) { accessToken } }",
        {"d": body["data"]["startDeviceAuthorization"]["deviceCode"]},
    )
    assert error_codes(poll) == ["authorization_pending"]


async def test_the_service_reports_the_missing_service_on_ready(redis_down: Platform) -> None:
    app = redis_down["identity"].asgi_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://identity"
    ) as http:
        ready = await http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["degraded"] == {"redis": "unreachable"}
    assert "127.0.0.1" not in ready.text


async def test_unexpected_failures_reach_clients_without_their_detail(
    platform: Platform, gateway: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in = identity_services(platform["identity"]).sign_in

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("Error 111 connecting to 10.20.30.40:6379. Connection refused.")

    monkeypatch.setattr(sign_in, "login", broken)
    body = await gateway(LOGIN, {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert "10.20.30.40" not in json.dumps(body)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_and_says_which_service_is_missing(tmp_path: Path) -> None:
    """``media-gateway serve`` with REDIS_URL on a closed port: no traceback, a warning naming
    Redis, sign-in answers, and its errors name no internal address."""
    port = _free_port()
    env = {
        **os.environ,
        "REDIS_URL": CLOSED_REDIS,
        "MEDIA_GATEWAY_DATA_DIR": str(tmp_path),
        "LOG_JSON": "0",
    }
    env.pop("DATABASE_URL", None)
    command = [sys.executable, "-m", "media_gateway.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0][-3000:]
            try:
                if httpx.get(url + "/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("serve did not become ready")
        query = {"query": LOGIN, "variables": {"email": DEMO_EMAIL, "password": "not it at all"}}
        wrong = httpx.post(url + "/graphql", json=query, timeout=30).json()
        assert error_codes(wrong) == ["UNAUTHENTICATED"]
        _assert_nothing_internal(wrong)
        query["variables"]["password"] = DEMO_PASSWORD
        right = httpx.post(url + "/graphql", json=query, timeout=30).json()
        assert right["data"]["login"]["accessToken"], right
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "Traceback" not in output, output[-3000:]
    assert "Redis is unreachable (REDIS_URL)" in output, output[-3000:]
