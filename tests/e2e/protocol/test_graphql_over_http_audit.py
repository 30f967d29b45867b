"""The GraphQL-over-HTTP audit of the `graphql-http` npm package (its `auditServer`) against
a real gateway on loopback: the platform's gateway as `serve` runs it, and the router alone
in front of a supergraph's subgraphs as `gateway --supergraph` runs it. Every MUST and every
SHOULD audit passes; the MAY audits (application/json answers a request it cannot run with
200, as the specification allows) are left to the report."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Gateway

try:  # the test folders are packages; their parent may or may not be one
    from tests.gateway.test_defer import GatewayServer
except ImportError:  # pragma: no cover
    from gateway.test_defer import GatewayServer  # type: ignore[no-redef,unused-ignore]

CLIENTS = Path(__file__).parent / "node"

# graphql-http reports a failed MUST as "error", a failed SHOULD as "warn", a failed MAY as
# "notice"
REQUIRED = {"error": "MUST", "warn": "SHOULD"}


def graphql_http_audit(url: str) -> list[dict[str, Any]]:
    """Run graphql-http's server audits against `url`; every audit's result."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup.sh --dev installs the clients)"
    assert (CLIENTS / "node_modules" / "graphql-http").is_dir(), (
        "the protocol clients are not installed: run scripts/setup.sh --dev"
    )
    done = subprocess.run(
        [node, str(CLIENTS / "graphql-http-audit.mjs"), json.dumps({"url": url})],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, f"the audit did not run:\n{done.stderr}"
    results: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])["results"]
    return results


def assert_conformant(results: list[dict[str, Any]]) -> None:
    names = {r["name"].split(" ", 1)[0] for r in results}
    assert {"MUST", "SHOULD"} <= names, results  # the audit ran its required checks
    failed = [r for r in results if r["status"] in REQUIRED]
    assert not failed, "GraphQL-over-HTTP audits failed:\n" + "\n".join(
        f"- [{r['id']}] {r['name']}: {r['reason']}"
        f" (answered {r.get('httpStatus')} {r.get('contentType')}: {r.get('body')})"
        for r in failed
    )


@pytest.fixture(scope="module")
def router() -> Iterator[GatewayServer]:
    with GatewayServer() as running:
        yield running


async def test_the_platform_gateway_passes_every_must_and_should_audit(
    gateway: Gateway,
) -> None:
    results = await asyncio.to_thread(graphql_http_audit, gateway.http_url)
    assert_conformant(results)


async def test_the_supergraph_router_passes_every_must_and_should_audit(
    router: GatewayServer,
) -> None:
    results = await asyncio.to_thread(graphql_http_audit, router.url)
    assert_conformant(results)
