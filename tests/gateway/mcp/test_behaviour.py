"""The server's behaviour with the gateway's pipeline in this process, through the SDK's
in-process client: protocol revisions, retries and time-outs, trusted-document tools, and
tools rebuilt when the supergraph changes."""

from __future__ import annotations

import asyncio
from typing import Any

import mcp.types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types.version import LATEST_HANDSHAKE_VERSION, LATEST_PROTOCOL_VERSION

from media_gateway.gateway.edge.config import EdgeConfig
from media_gateway.gateway.edge.persisted import PersistedOperation
from media_gateway.gateway.edge.pipeline import Edge
from media_gateway.gateway.mcp.backend import PipelineBackend
from media_gateway.gateway.mcp.config import McpConfig
from media_gateway.gateway.mcp.server import McpGateway
from media_gateway.gateway.pipeline import Pipeline
from media_gateway.gateway.router import Router
from media_gateway.gateway.supergraph import Supergraph

from ..helpers import Subgraphs, supergraph_sdl
from .conftest import OPERATIONS


def library_router(name: str = "library") -> Router:
    return Router(Supergraph(supergraph_sdl(name)), Subgraphs("in-process", None).clients())


class Flaky(PipelineBackend):
    """The pipeline, failing the first `failures` operations as a subgraph outage would."""

    def __init__(self, pipeline: Pipeline, failures: int, delay: float = 0.0) -> None:
        super().__init__(pipeline)
        self.failures = failures
        self.delay = delay
        self.calls = 0

    async def execute(self, params: Any, headers: Any) -> dict[str, Any]:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.calls <= self.failures:
            return {
                "data": None,
                "errors": [{"message": "down", "extensions": {"code": "SUBGRAPH_ERROR"}}],
            }
        return await super().execute(params, headers)


def gateway_over(backend: PipelineBackend, **config: Any) -> McpGateway:
    return McpGateway(backend, McpConfig(operations=OPERATIONS, **config))


async def test_a_failed_query_is_tried_again_a_mutation_never() -> None:
    pipeline = Pipeline.for_router(library_router())
    backend = Flaky(pipeline, failures=1)
    async with Client(gateway_over(backend, mutations=True).server) as client:
        query = await client.call_tool("books", {})
        assert not query.is_error and backend.calls == 2
        backend.calls, backend.failures = 0, 1
        mutation = await client.call_tool("restock", {"isbn": "isbn-1", "amount": 1})
    assert mutation.is_error and backend.calls == 1
    assert "SUBGRAPH_ERROR" in mutation.content[0].text


async def test_a_call_that_takes_too_long_answers_a_tool_error() -> None:
    backend = Flaky(Pipeline.for_router(library_router()), failures=0, delay=1.0)
    async with Client(gateway_over(backend, tool_timeout=0.2, retries=1).server) as client:
        result = await client.call_tool("books", {})
    assert result.is_error and "did not answer within 0.2 seconds" in result.content[0].text
    assert backend.calls == 2  # a query: tried twice


async def test_trusted_documents_become_tools_when_asked() -> None:
    pipeline = Pipeline.for_router(library_router())
    manifest = [
        PersistedOperation(
            "abc123", "query LatestReviews { latestReviews { id } }", "LatestReviews"
        )
    ]
    backend = PipelineBackend(pipeline, manifests=lambda: manifest)
    async with Client(gateway_over(backend).server) as client:
        without = {t.name for t in (await client.list_tools()).tools}
    async with Client(gateway_over(backend, manifest_tools=True).server) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("latest_reviews", {})
    assert "latest_reviews" not in without and "latest_reviews" in tools
    assert not result.is_error and "latestReviews" in result.structured_content


async def test_tools_follow_the_supergraph() -> None:
    current = [library_router()]
    pipeline = Pipeline(lambda: current[0], Edge(EdgeConfig.off()))
    gateway = gateway_over(PipelineBackend(pipeline))
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(getattr(message, "root", message), types.ToolListChangedNotification):
            changed.set()

    watcher = asyncio.create_task(gateway.watch(0.05))
    try:
        async with Client(gateway.server, mode="legacy", message_handler=on_message) as client:
            await client.list_tools()
            # a new supergraph loaded (as a reload swaps the router)
            current[0] = library_router("library-core")
            await asyncio.wait_for(changed.wait(), 5)
            tools = {t.name for t in (await client.list_tools()).tools}
    finally:
        watcher.cancel()
    assert "books" in tools


async def test_the_current_revision_and_an_older_one(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    seen = {}
    for mode in ("auto", "legacy"):
        async with Client(f"{served.url}/mcp", mode=mode) as client:
            result = await client.call_tool("book", {"id": "b1"})
            seen[mode] = client.protocol_version
            assert result.structured_content == {"book": {"id": "b1", "title": "The Quiet Harbor"}}
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("nothing", {})
    # the current revision when the client speaks it, else the newest handshake revision
    assert seen == {"auto": LATEST_PROTOCOL_VERSION, "legacy": LATEST_HANDSHAKE_VERSION}


def test_the_tools_documents_as_the_router_parsed_them() -> None:
    gateway = gateway_over(PipelineBackend(Pipeline.for_router(library_router())))
    names = {
        d.name.value
        for document in gateway.documents()
        for d in document.definitions
        if hasattr(d, "name") and d.name is not None
    }
    # the offered tools only: no mutation while mutations are off
    assert {"Books", "Book", "SlowCount"} <= names and "Restock" not in names
