"""@defer as Apollo Client (the `@apollo/client` npm package, with its `deferSpec=20220824`
handler) receives it from the gateway: over multipart HTTP (its own HttpLink) and over SSE
(graphql-sse's client in a link). The gateway serves the library's subgraphs in-process."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:  # the test folders are packages; their parent may or may not be one
    from tests.gateway.library import data
    from tests.gateway.test_defer import GatewayServer
except ImportError:  # pragma: no cover
    from gateway.library import data  # type: ignore[no-redef,unused-ignore]
    from gateway.test_defer import GatewayServer  # type: ignore[no-redef,unused-ignore]

CLIENTS = Path(__file__).parent / "node"
TRANSPORTS = ("multipart", "sse")


def apollo_client(**options: Any) -> dict[str, Any]:
    """Run the query through Apollo Client; what its watchQuery emitted."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup.sh --dev installs the clients)"
    assert (CLIENTS / "node_modules" / "@apollo" / "client").is_dir(), (
        "the protocol clients are not installed: run scripts/setup.sh --dev"
    )
    done = subprocess.run(
        [node, str(CLIENTS / "apollo-client-defer.mjs"), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def without_typename(value: dict[str, Any]) -> dict[str, Any]:
    """Apollo Client adds `__typename` to every selection."""
    return {k: v for k, v in value.items() if k != "__typename"}


@pytest.fixture(scope="module")
def server() -> Iterator[GatewayServer]:
    with GatewayServer() as running:
        yield running


@pytest.fixture(autouse=True)
def library_state() -> None:
    data.reset()


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_apollo_client_merges_deferred_entity_fields(
    server: GatewayServer, transport: str
) -> None:
    query = """query Shelf {
      books { id title ... @defer(label: "reviews") { reviewCount(delayMs: 300) } }
    }"""
    report = await asyncio.to_thread(
        apollo_client, url=server.url, query=query, transport=transport
    )
    assert not report["timedOut"] and "failed" not in report, report
    results = [r for r in report["results"] if r["data"]]
    streaming = [r for r in results if r["dataState"] == "streaming"]
    final = results[-1]
    assert final["dataState"] == "complete" and final["error"] is None, report
    assert [b["reviewCount"] for b in final["data"]["books"]] == [2, 1, 1, 0]
    # before the deferred fragment arrived, the client had the rest of the books
    assert streaming, report
    first = streaming[0]["data"]["books"]
    assert [b["title"] for b in first] == [b["title"] for b in final["data"]["books"]]
    assert all("reviewCount" not in b for b in first)
    assert final["ms"] - streaming[0]["ms"] >= 200


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_apollo_client_merges_a_deferred_root_field(
    server: GatewayServer, transport: str
) -> None:
    query = """query Counts {
      authorsCount
      ... @defer(label: "books") { booksCount(delayMs: 300) }
    }"""
    report = await asyncio.to_thread(
        apollo_client, url=server.url, query=query, transport=transport
    )
    results = [r for r in report["results"] if r["data"]]
    assert results[0]["dataState"] == "streaming", report
    assert without_typename(results[0]["data"]) == {"authorsCount": 3}
    assert results[-1]["dataState"] == "complete"
    assert without_typename(results[-1]["data"]) == {"authorsCount": 3, "booksCount": 4}


async def test_apollo_client_reports_an_error_of_a_deferred_fragment(
    server: GatewayServer,
) -> None:
    """isbn-4 has no inventory record: the client keeps every other book's stock and
    reports the error (errorPolicy "all")."""
    query = "query Stock { books { id title ... @defer { stock } } }"
    report = await asyncio.to_thread(
        apollo_client, url=server.url, query=query, transport="multipart"
    )
    final = report["results"][-1]
    assert final["loading"] is False, report
    assert "No inventory record for isbn-4" in (final["error"] or ""), report
    books = final["data"]["books"]
    assert [b.get("stock") for b in books] == [3, 0, 1, None]
    # the increment of that book carried no data: Apollo Client leaves the field out (and
    # so reports the result as still incomplete)
    assert "stock" not in books[3] and final["dataState"] == "streaming"
