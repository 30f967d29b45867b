"""The MCP endpoint over Streamable HTTP, driven by the official SDK's client."""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import MCPError

from media_gateway.gateway.mcp.config import McpConfig

from .conftest import OPERATIONS, connect


async def test_lists_the_operation_set_as_tools(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {"books", "book", "slow_count", "search_schema", "execute"} <= set(tools)
    # mutations are off unless enabled: not offered
    assert "restock" not in tools
    book = tools["book"]
    assert book.description == "One book by its id."
    assert book.input_schema["required"] == ["id"]
    assert book.input_schema["properties"]["id"]["description"] == "The book's id, e.g. 1"
    assert book.annotations is not None and book.annotations.read_only_hint
    assert book.output_schema is not None
    assert set(book.output_schema["properties"]["book"]["properties"]) == {"id", "title"}


async def test_calls_a_tool_through_the_gateway(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        result = await client.call_tool("book", {"id": "b1"})
    assert not result.is_error
    assert result.structured_content == {"book": {"id": "b1", "title": "The Quiet Harbor"}}
    assert json.loads(result.content[0].text) == result.structured_content


async def test_bad_arguments_are_a_tool_error_the_model_can_act_on(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        result = await client.call_tool("book", {"id": 5, "colour": "red"})
    assert result.is_error
    text = result.content[0].text
    assert "Invalid arguments" in text and "colour" in text and "id" in text


async def test_an_unknown_tool_is_a_protocol_error(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("no_such_tool", {})


async def test_a_mutation_is_refused_while_mutations_are_off(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        result = await client.call_tool("restock", {"isbn": "x", "amount": 1})
        executed = await client.call_tool(
            "execute", {"query": 'mutation { restock(isbn: "x", amount: 1) { sequence } }'}
        )
    assert result.is_error and "does not run mutations" in result.content[0].text
    assert executed.is_error and "does not run mutations" in executed.content[0].text


async def test_agent_traffic_is_labelled_in_the_metrics(serve) -> None:
    from prometheus_client import generate_latest

    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        await client.call_tool("book", {"id": "b1"})
        await client.call_tool("book", {"id": 1})
    registry = served.server.config.app.state.gateway.edge.telemetry.registry
    exposed = generate_latest(registry).decode()
    assert 'gateway_mcp_tool_calls_total{outcome="ok",tool="book"} 1.0' in exposed
    assert 'gateway_mcp_tool_calls_total{outcome="error",tool="book"} 1.0' in exposed
    assert "gateway_mcp_tool_call_duration_seconds_count" in exposed
