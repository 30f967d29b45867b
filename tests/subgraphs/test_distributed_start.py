"""The distributed mode as the README runs it: separate processes, separate data folders.

The identity service signs; the sync service and the standalone router verify through the
identity JWKS (``JWT_JWKS_URL``) and learn a rotated key on their own. A PostgreSQL schema
that does not exist yet is created at start, or refused in one line; ``/ready`` names each
dependency.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from media_gateway.app import SUBGRAPHS
from media_gateway.assembly.base import Runtime
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD
from media_gateway.platform.settings import Settings

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
SUPERGRAPH = (
    Path(__file__).resolve().parents[2] / "src" / "media_gateway" / "schema" / "supergraph.graphql"
)
LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { accessToken }
}
"""
SYNC_STATE = "{ syncState { cursor } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Processes:
    """Services started by one test; all stopped (and their output kept) at its end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.running: list[tuple[str, subprocess.Popen[str], Path]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        log = self.tmp_path / f"{name}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SUBGRAPH_URL_")}
        for variable in ("DATABASE_URL", "DATABASE_SCHEMA", "REDIS_URL", "JWT_JWKS_URL"):
            full_env.pop(variable, None)
        full_env.update({"LOG_JSON": "0", "MEDIA_GATEWAY_SEED_DEMO": "1", **env})
        with log.open("w") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "media_gateway.cli", *args],
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.running.append((name, process, log))
        return process

    def output(self, name: str) -> str:
        return next(log.read_text() for n, _, log in self.running if n == name)

    def wait_ready(self, name: str, url: str, path: str = "/ready", seconds: float = 90) -> None:
        process = next(p for n, p, _ in self.running if n == name)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"{name} exited: {self.output(name)[-3000:]}")
            try:
                if httpx.get(url + path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        pytest.fail(f"{name} was not ready in time: {self.output(name)[-3000:]}")

    def stop_all(self) -> None:
        for _, process, _ in reversed(self.running):
            if process.poll() is None:
                process.terminate()
        for _, process, _ in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


def _postgres(schema: str, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from media_gateway.platform.settings import normalize_database_url

    assert POSTGRES_URL is not None

    async def run() -> None:
        engine = create_async_engine(normalize_database_url(POSTGRES_URL))
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement.format(schema=schema)))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def shared_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """What every service is given to share one database: PostgreSQL in a schema that does
    not exist yet when TEST_POSTGRES_URL is set (the services create it), else a SQLite file."""
    if not POSTGRES_URL:
        yield {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.sqlite'}"}
        return
    schema = f"dist_{uuid.uuid4().hex[:10]}"
    try:
        yield {"DATABASE_URL": POSTGRES_URL, "DATABASE_SCHEMA": schema}
    finally:
        _postgres(schema, 'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _graphql(url: str, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(
        url + "/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=30
    )
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


def _kid(token: str) -> str:
    from jose import jwt

    return str(jwt.get_unverified_header(token)["kid"])


def _codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def test_services_and_router_verify_through_the_jwks_and_follow_a_rotation(
    tmp_path: Path, processes: Processes, shared_database: dict[str, str]
) -> None:
    identity_port, sync_port, gateway_port = _free_port(), _free_port(), _free_port()
    identity_url = f"http://127.0.0.1:{identity_port}"
    sync_url = f"http://127.0.0.1:{sync_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    jwks_url = f"{identity_url}/.well-known/jwks.json"
    identity_dir, sync_dir, gateway_dir = (tmp_path / n for n in ("identity", "sync", "gateway"))
    common = {
        **shared_database,
        "JWT_JWKS_URL": jwks_url,
        "SUBGRAPH_URL_IDENTITY": f"{identity_url}/graphql",
        "SUBGRAPH_URL_SYNC": f"{sync_url}/graphql",
        "TRUSTED_PROXIES": "loopback",
    }
    identity_env = {**common, "MEDIA_GATEWAY_DATA_DIR": str(identity_dir)}
    processes.start(
        "identity", ["subgraph", "identity", "--port", str(identity_port)], identity_env
    )
    processes.wait_ready("identity", identity_url)
    sync_env = {**common, "MEDIA_GATEWAY_DATA_DIR": str(sync_dir)}
    processes.start("sync", ["subgraph", "sync", "--port", str(sync_port)], sync_env)
    gateway_env = {
        **common,
        "MEDIA_GATEWAY_DATA_DIR": str(gateway_dir),
        "GATEWAY_AUTHENTICATOR": "media_gateway.app.authn:authenticate",
    }
    processes.start(
        "gateway",
        ["gateway", "--supergraph", str(SUPERGRAPH), "--port", str(gateway_port)],
        gateway_env,
    )
    processes.wait_ready("sync", sync_url)
    processes.wait_ready("gateway", gateway_url, "/health")

    # signed by identity; verified by sync and by the router with keys from the JWKS alone
    token = _graphql(identity_url, LOGIN, email=DEMO_EMAIL, password=DEMO_PASSWORD)["data"][
        "login"
    ]["accessToken"]
    direct = _graphql(sync_url, SYNC_STATE, token)
    assert "errors" not in direct and direct["data"]["syncState"]["cursor"], direct
    routed = _graphql(gateway_url, SYNC_STATE, token)
    assert "errors" not in routed and routed["data"]["syncState"]["cursor"], routed
    anonymous = _graphql(gateway_url, SYNC_STATE)
    assert _codes(anonymous) == ["UNAUTHENTICATED"], anonymous
    # the verifiers never made a key of their own
    assert not list(sync_dir.rglob("*.pem")) and not list(gateway_dir.rglob("*.pem"))

    # rotate: a new key in the identity service's folder; it signs with it within seconds
    rotated = subprocess.run(
        [sys.executable, "-m", "media_gateway.cli", "keys", "rotate"],
        env={**os.environ, "JWT_KEY_DIR": str(identity_dir / "keys"), "LOG_JSON": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rotated.returncode == 0, rotated.stderr
    new_token = token
    deadline = time.monotonic() + 30
    while _kid(new_token) == _kid(token) and time.monotonic() < deadline:
        time.sleep(1)
        new_token = _graphql(identity_url, LOGIN, email=DEMO_EMAIL, password=DEMO_PASSWORD)["data"][
            "login"
        ]["accessToken"]
    assert _kid(new_token) != _kid(token), "identity kept signing with the old key"

    # sync and the router learn the new key from the JWKS (a refetch is at most every few
    # seconds, so the first answer may still refuse it)
    for url in (sync_url, gateway_url):
        deadline = time.monotonic() + 20
        body = _graphql(url, SYNC_STATE, new_token)
        while "errors" in body and time.monotonic() < deadline:
            time.sleep(1)
            body = _graphql(url, SYNC_STATE, new_token)
        assert "errors" not in body, (url, body)
        # the token signed before the rotation stays valid until it expires
        old = _graphql(url, SYNC_STATE, token)
        assert "errors" not in old, (url, old)

    ready = httpx.get(sync_url + "/ready", timeout=10).json()
    assert ready["status"] == "ready" and ready["dependencies"]["jwks"] == "up", ready
    for name in ("identity", "sync", "gateway"):
        assert "Traceback" not in processes.output(name), processes.output(name)[-3000:]


@pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set")
def test_a_missing_schema_is_created_at_start(tmp_path: Path, processes: Processes) -> None:
    schema = f"fresh_{uuid.uuid4().hex[:10]}"
    port = _free_port()
    env = {
        "DATABASE_URL": str(POSTGRES_URL),
        "DATABASE_SCHEMA": schema,
        "MEDIA_GATEWAY_DATA_DIR": str(tmp_path),
    }
    try:
        processes.start("identity", ["subgraph", "identity", "--port", str(port)], env)
        processes.wait_ready("identity", f"http://127.0.0.1:{port}")
        login = _graphql(
            f"http://127.0.0.1:{port}", LOGIN, email=DEMO_EMAIL, password=DEMO_PASSWORD
        )
        assert login["data"]["login"]["accessToken"], login
    finally:
        processes.stop_all()
        _postgres(schema, 'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert "Traceback" not in processes.output("identity")


@pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set")
def test_a_schema_that_cannot_be_created_is_refused_in_one_line(
    tmp_path: Path, processes: Processes
) -> None:
    from sqlalchemy.engine import make_url

    role = f"mg_limited_{uuid.uuid4().hex[:8]}"
    schema = f"refused_{uuid.uuid4().hex[:10]}"
    _postgres(role, 'CREATE ROLE "{schema}" LOGIN')
    try:
        url = make_url(str(POSTGRES_URL)).set(username=role, password=None)
        env = {
            "DATABASE_URL": url.render_as_string(hide_password=False),
            "DATABASE_SCHEMA": schema,
            "MEDIA_GATEWAY_DATA_DIR": str(tmp_path),
        }
        process = processes.start("sync", ["subgraph", "sync", "--port", str(_free_port())], env)
        process.wait(timeout=90)
        output = processes.output("sync")
    finally:
        processes.stop_all()
        _postgres(role, 'DROP ROLE IF EXISTS "{schema}"')
    assert process.returncode != 0
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if f'schema "{schema}"' in line]
    assert len(lines) == 1, output
    assert "DATABASE_SCHEMA" in lines[0] and "CREATE SCHEMA" in lines[0], lines[0]


async def test_ready_names_each_dependency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = _free_port()
    monkeypatch.setenv("SUBGRAPH_URL_CATALOG", f"http://127.0.0.1:{closed}/graphql")
    settings = Settings.from_env(
        {
            "MEDIA_GATEWAY_DATA_DIR": str(tmp_path),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed}",
            "JWT_JWKS_URL": f"http://127.0.0.1:{closed}/.well-known/jwks.json",
        }
    )
    runtime = Runtime.create(settings)
    subgraph = SUBGRAPHS["sync"](runtime)
    subgraph.owns_runtime = True  # as when it runs as a service of its own
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=subgraph.asgi_app()), base_url="http://sync"
        ) as http:
            ready = await http.get("/ready")
        body = ready.json()
        assert ready.status_code == 200, body  # only optional ones are missing
        assert body["dependencies"]["database"] == "up"
        assert body["degraded"] == {
            "subgraph:catalog": "unreachable",
            "jwks": "unreachable",
        }, body
        assert "127.0.0.1" not in ready.text

        down = Settings.from_env(
            {
                "MEDIA_GATEWAY_DATA_DIR": str(tmp_path),
                "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{closed}/none",
            }
        )
        broken = SUBGRAPHS["playback"](Runtime.create(down))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=broken.asgi_app()), base_url="http://playback"
        ) as http:
            unready = await http.get("/ready")
        assert unready.status_code == 503
        assert unready.json()["failing"] == {"database": "unreachable"}
        assert "127.0.0.1" not in unready.text
        await broken.runtime.close()
    finally:
        await runtime.close()
