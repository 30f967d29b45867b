"""No link the product prints is a 404, on `media-gateway serve` as a newcomer starts it (no
PUBLIC_URL set, on a port other than 4000): the device sign-in's `verificationUri` (GraphQL
and the OAuth endpoint), the links of the console mail (email confirmation, password reset),
and every endpoint the discovery documents name. Each link uses the port the server
listens on."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

STARTUP_SECONDS = 240.0
LINK = re.compile(r"https?://[^\s\"'\\]+")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`media-gateway serve --port PORT`: its public address and its log file."""
    data = tmp_path_factory.mktemp("serve")
    log = data / "serve.log"
    port = _free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PUBLIC_URL", "OAUTH_ISSUER", "DATABASE_URL", "REDIS_URL", "SMTP_URL")
        and not key.startswith(("KAFKA", "QDRANT", "GATEWAY_MCP_"))
    }
    environment.update(
        MEDIA_GATEWAY_DATA_DIR=str(data), MEDIA_GATEWAY_SEED_DEMO="false", LOG_LEVEL="INFO"
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "media_gateway.cli", "serve", "--port", str(port)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"serve exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"serve did not start: {log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://localhost:{port}", log
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _local(link: str) -> str:
    """The link, asked of the loopback address it names."""
    parts = urlsplit(link)
    return urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))


def _answers(link: str) -> int:
    status = httpx.get(_local(link), timeout=30, follow_redirects=False).status_code
    assert status != 404, f"{link} is a 404"
    return status


def _graphql(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = httpx.post(
        _local(base) + "/graphql", json={"query": query, "variables": variables or {}}, timeout=30
    ).json()
    assert "errors" not in body, body
    return body


def _mailed_links(log: Path, recipient: str, path: str) -> list[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = [
            link
            for line in log.read_text(errors="replace").splitlines()
            if f"email to {recipient}" in line
            for link in LINK.findall(line.replace("\\n", " "))
            if urlsplit(link).path == path
        ]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {path} link mailed to {recipient}")


def test_the_device_sign_in_links_use_the_servers_own_address(
    served: tuple[str, Path],
) -> None:
    base, _ = served
    assert not base.endswith(":4000")
    started = httpx.post(
        _local(base) + "/oauth/device_authorization", data={"client_id": "media-gateway-tv"}
    ).json()
    assert started["verification_uri"] == f"{base}/activate"
    assert started["verification_uri_complete"].startswith(f"{base}/activate?user_code=")
    grant = _graphql(
        base,
        'mutation { startDeviceAuthorization(clientId: "media-gateway-tv") { '
        "verificationUri verificationUriComplete } }",
    )["data"]["startDeviceAuthorization"]
    for link in (*started.values(), *grant.values()):
        if isinstance(link, str) and link.startswith("http"):
            assert link.startswith(base), link
            _answers(link)


def test_the_links_of_the_console_mail_answer(served: tuple[str, Path]) -> None:
    base, log = served
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    _graphql(
        base,
        "mutation($e: String!) { register(input: {email: $e, password: "
        '"violet lanterns drift over quiet harbours", displayName: "A viewer"}) { id } }',
        {"e": email},
    )
    _graphql(base, "mutation($e: String!) { requestPasswordReset(email: $e) }", {"e": email})
    for path in ("/verify-email", "/reset-password"):
        for link in _mailed_links(log, email, path):
            assert link.startswith(base), link
            assert _answers(link) == 200


def test_every_endpoint_the_discovery_documents_name_answers(served: tuple[str, Path]) -> None:
    base, _ = served
    for path in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ):
        response = httpx.get(_local(base) + path, timeout=30)
        assert response.status_code == 200, path
        metadata = response.json()
        assert metadata["issuer"] == base
        links = [v for k, v in metadata.items() if k.endswith("_endpoint") or k == "jwks_uri"]
        assert len(links) >= 5, metadata
        for link in links:
            assert link.startswith(base), link
            _answers(link)
    resource = httpx.get(_local(base) + "/.well-known/oauth-protected-resource/mcp", timeout=30)
    if resource.status_code == 200:  # the MCP endpoint is on
        described = resource.json()
        for link in (described["resource"], *described["authorization_servers"]):
            assert link.startswith(base), json.dumps(described)
