"""The standalone router (`media-gateway gateway`) says what it serves and logs each request."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .conftest import SUPERGRAPH


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_the_standalone_gateway_logs_start_up_requests_and_errors(tmp_path: Path) -> None:
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(SUPERGRAPH)
    port = free_port()
    log_file = tmp_path / "gateway.log"
    env = {**os.environ, "LOG_JSON": "1", "LOG_LEVEL": "INFO"}
    env.pop("MEDIA_GATEWAY_ENV", None)
    with log_file.open("w") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "media_gateway.cli",
                "gateway",
                "--supergraph",
                str(supergraph),
                "--port",
                str(port),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            headers = {"x-request-id": "req-logged-1"}
            ok = httpx.post(
                f"{url}/graphql",
                json={"query": "query Ping { __typename }", "operationName": "Ping"},
                headers=headers,
                timeout=10,
            )
            assert ok.json() == {"data": {"__typename": "Query"}}
            bad = httpx.post(f"{url}/graphql", json={"query": "{ nope }"}, timeout=10)
            assert bad.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    lines = json_lines(log_file.read_text())
    start = next(line for line in lines if line.get("message") == "gateway starting")
    assert start["supergraph"] == str(supergraph.resolve())
    assert set(start["subgraphs"]) == {"products", "reviews"}
    assert start["listen"] == f"http://127.0.0.1:{port}/graphql"
    access = [line for line in lines if line.get("logger") == "media_gateway.access"]
    ping = next(line for line in access if line.get("request_id") == "req-logged-1")
    assert ping["status"] == 200 and ping["method"] == "POST" and ping["path"] == "/graphql"
    assert ping["operation_name"] == "Ping" and isinstance(ping["duration_ms"], float)
    assert ping["operation_type"] == "query" and len(ping["operation_id"]) == 64
    # one line per request: the access line carries the operation
    assert [line for line in lines if line.get("request_id") == "req-logged-1"] == [ping]
    failed = next(line for line in access if line.get("error_codes"))
    assert failed["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
