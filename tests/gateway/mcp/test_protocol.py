"""The rest of the protocol over Streamable HTTP: resources, prompts, completion, logging,
progress, cancellation, list-changed, version negotiation and the output cap."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp.shared.exceptions import MCPError

from media_gateway.gateway.mcp.config import McpConfig
from media_gateway.gateway.mcp.server import trim

from .conftest import OPERATIONS, connect, endpoint_of


async def test_the_schema_and_a_resource_template(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        schema = await client.read_resource("graphql://schema")
        book = await client.read_resource("library://book/b1")
        with pytest.raises(MCPError):
            await client.read_resource("library://nothing/here")
    assert [str(r.uri) for r in resources] == ["graphql://schema"]
    assert "type Book" in schema.contents[0].text
    assert [t.uri_template for t in templates] == ["library://book/{id}"]
    assert json.loads(book.contents[0].text) == {"book": {"id": "b1", "title": "The Quiet Harbor"}}


async def test_prompts(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        prompts = (await client.list_prompts()).prompts
        prompt = await client.get_prompt("find_a_book", {"subject": "the sea"})
        with pytest.raises(MCPError, match="Missing argument"):
            await client.get_prompt("find_a_book", {})
    assert [p.name for p in prompts] == ["find_a_book"]
    assert "the sea" in prompt.messages[0].content.text


async def test_completion_is_backed_by_an_operation(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        completed = await client.complete(
            types.PromptReference(type="ref/prompt", name="find_a_book"),
            {"name": "title", "value": "quiet"},
        )
    assert completed.completion.values == ["The Quiet Harbor"]


async def test_logging_and_progress(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    logged: list[Any] = []
    progress: list[float] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logged.append(params.data)

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with connect(served.url, logging_callback=on_log) as client:
        with pytest.warns(Warning):
            await client.set_logging_level("info")
        result = await client.call_tool("books", {}, progress_callback=on_progress)
    assert not result.is_error
    assert logged and logged[0]["tool"] == "books"
    assert progress == [0, 1]


async def test_a_cancelled_call_stops_its_operation(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    gateway = endpoint_of(served).gateway
    seen: list[str] = []
    execute = gateway.backend.execute

    async def recording(params: Any, headers: Any) -> dict[str, Any]:
        seen.append("started")
        try:
            return await execute(params, headers)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    gateway.backend.execute = recording  # type: ignore[method-assign]
    async with connect(served.url) as client:
        with anyio.move_on_after(1):
            await client.call_tool("slow_count", {"delayMs": 20000})
        for _ in range(100):
            if "cancelled" in seen:
                break
            await asyncio.sleep(0.05)
        # the session goes on
        assert not (await client.call_tool("books", {})).is_error
    assert seen[:2] == ["started", "cancelled"]


async def test_tools_change_when_the_operation_set_does(serve, tmp_path) -> None:
    for path in OPERATIONS.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    served = serve(McpConfig(operations=tmp_path))
    changed = asyncio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(getattr(message, "root", message), types.ToolListChangedNotification):
            changed.set()

    async with connect(served.url, message_handler=on_message) as client:
        before = {t.name for t in (await client.list_tools()).tools}
        (tmp_path / "authors.graphql").write_text(
            "# Every author.\nquery Authors { authors { id name } }\n"
        )
        await asyncio.wait_for(changed.wait(), 10)
        after = {t.name for t in (await client.list_tools()).tools}
    assert after - before == {"authors"}


async def test_an_older_protocol_revision_is_negotiated(serve) -> None:
    import httpx2

    served = serve(McpConfig(operations=OPERATIONS))
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{served.url}/mcp",
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-03-26",
                    "capabilities": {},
                    "clientInfo": {"name": "old", "version": "1"},
                },
            },
            headers={"accept": "application/json, text/event-stream"},
        )
    assert response.status_code == 200
    assert '"protocolVersion":"2025-03-26"' in response.text.replace(" ", "")


async def test_development_tools_search_the_schema_and_execute(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    async with connect(served.url) as client:
        found = await client.call_tool("search_schema", {"keywords": "restock"})
        ran = await client.call_tool("execute", {"query": '{ book(id: "b1") { title } }'})
        bad = await client.call_tool("execute", {"query": "{ nothing }"})
    assert "restock" in found.content[0].text
    assert json.loads(ran.content[0].text) == {"book": {"title": "The Quiet Harbor"}}
    assert bad.is_error and "not valid" in bad.content[0].text


async def test_production_has_no_development_tools(serve) -> None:
    config = McpConfig.from_env({"MEDIA_GATEWAY_ENV": "production", "GATEWAY_MCP_DEV_TOOLS": "1"})
    assert not config.dev_tools
    served = serve(McpConfig(operations=OPERATIONS, dev_tools=False))
    async with connect(served.url) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        with pytest.raises(MCPError):
            await client.call_tool("execute", {"query": "{ books { id } }"})
    assert not names & {"search_schema", "execute"}


async def test_mutations_when_enabled_carry_their_annotations(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS, mutations=True))
    async with connect(served.url) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    restock = tools["restock"]
    assert restock.annotations is not None
    assert restock.annotations.destructive_hint and not restock.annotations.read_only_hint


async def test_a_destructive_call_asks_for_confirmation(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS, mutations=True))
    asked: list[str] = []

    async def decline(ctx: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="decline")

    async with connect(served.url, elicitation_callback=decline) as client:
        result = await client.call_tool("restock", {"isbn": "isbn-1", "amount": 1})
    assert asked and "Restock a book" in asked[0]
    assert result.is_error and "did not confirm" in result.content[0].text


def test_output_is_trimmed_with_a_note() -> None:
    data = {"books": [{"id": str(i), "title": "x" * 50} for i in range(1000)]}
    trimmed, note = trim(data, 2000)
    assert len(json.dumps(trimmed)) <= 2000
    assert note is not None and "more items exist" in note
    assert trim({"a": 1}, 2000) == ({"a": 1}, None)


async def test_at_the_current_revision_a_request_opts_in_to_log_entries(serve) -> None:
    from mcp import Client

    served = serve(McpConfig(operations=OPERATIONS))
    logged: list[Any] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logged.append(params.data)

    async with Client(f"{served.url}/mcp", log_level="info", logging_callback=on_log) as client:
        assert not (await client.call_tool("books", {})).is_error
    assert logged and logged[0]["tool"] == "books"


async def test_at_the_current_revision_a_listener_hears_of_tool_changes(serve, tmp_path) -> None:
    from mcp import Client
    from mcp.client.subscriptions import ToolsListChanged

    for path in OPERATIONS.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    served = serve(McpConfig(operations=tmp_path))
    async with Client(f"{served.url}/mcp") as client:
        assert client.protocol_version == types.LATEST_PROTOCOL_VERSION
        async with client.listen(tools_list_changed=True) as events:
            (tmp_path / "authors.graphql").write_text(
                "# Every author.\nquery Authors { authors { id name } }\n"
            )
            with anyio.fail_after(10):
                event = await anext(aiter(events))
        assert isinstance(event, ToolsListChanged)
        assert "authors" in {t.name for t in (await client.list_tools()).tools}
