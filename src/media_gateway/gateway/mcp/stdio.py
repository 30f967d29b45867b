"""The MCP server over standard input and output (desktop agents start it as a command).

Two ways to reach the gateway: in this process (`serve_stdio` with a `McpGateway` over the
embedded gateway's pipeline, the caller's credential sent with every operation), or a
gateway elsewhere (`bridge_stdio`: every message goes on to that gateway's `/mcp` over
Streamable HTTP with the caller's credential, so the remote gateway's tools, limits and
rules apply unchanged). Nothing but the protocol is written to standard output.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Mapping
from typing import Any

import httpx2
import mcp.types as types
from mcp.client import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.stdio import stdio_server

from .server import McpGateway


async def serve_stdio(gateway: McpGateway) -> None:
    """Serve `gateway` on this process's standard input and output until the client leaves."""
    watcher = asyncio.create_task(gateway.watch())
    try:
        async with stdio_server() as (read, write):
            await gateway.server.run(read, write, gateway.initialization_options())
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def credential_headers(api_key: str | None, token: str | None) -> dict[str, str]:
    """How the gateway learns who is calling: an API key, or an access token."""
    if token:
        return {"authorization": f"Bearer {token}"}
    if api_key:
        return {"x-api-key": api_key}
    return {}


async def bridge_stdio(url: str, headers: Mapping[str, str]) -> None:
    """Relay an MCP client on standard input and output to the gateway's `/mcp` at `url`."""
    endpoint = url.rstrip("/")
    if not endpoint.endswith("/mcp"):
        endpoint += "/mcp"
    async with (
        httpx2.AsyncClient(headers=dict(headers), timeout=120) as http,
        streamable_http_client(endpoint, http_client=http) as (remote_read, remote_write),
    ):
        relay = Relay()
        async with ClientSession(
            remote_read,
            remote_write,
            message_handler=relay.on_message,
            elicitation_callback=relay.on_elicit,
        ) as remote:
            info = await remote.initialize()
            server = relay.server(remote, info)
            async with stdio_server() as (read, write):
                await server.run(
                    read,
                    write,
                    server.create_initialization_options(
                        NotificationOptions(tools_changed=True, resources_changed=True)
                    ),
                )


class Relay:
    """The local side of the bridge: each request handled by the same request to the remote
    server; the remote server's list-changed notifications passed on."""

    def __init__(self) -> None:
        self._sessions: list[Any] = []

    async def on_message(self, message: Any) -> None:
        if isinstance(getattr(message, "root", message), types.ToolListChangedNotification):
            for session in list(self._sessions):
                with contextlib.suppress(Exception):
                    await session.send_tool_list_changed()

    async def on_elicit(self, context: Any, params: Any) -> types.ElicitResult | types.ErrorData:
        """The remote server asks the user (to confirm a destructive call): the question goes
        to the local client when it can be asked; one that cannot relies on the tool's
        annotations, as it would calling the server directly."""
        session = self._sessions[0] if self._sessions else None
        capabilities = session.client_capabilities if session is not None else None
        if session is None or capabilities is None or capabilities.elicitation is None:
            return types.ElicitResult(action="accept", content={"confirm": True})
        form = params if isinstance(params, types.ElicitRequestFormParams) else None
        if form is None:
            return types.ElicitResult(action="decline")
        result: types.ElicitResult = await session.elicit_form(form.message, form.requested_schema)
        return result

    def server(self, remote: ClientSession, info: types.InitializeResult) -> Server[Any]:
        sessions = self._sessions

        def remember(ctx: Any) -> None:
            if ctx.session not in sessions:
                sessions[:] = [ctx.session]

        async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
            remember(ctx)
            return await remote.list_tools()

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> Any:
            remember(ctx)

            async def relay_progress(
                progress: float, total: float | None, message: str | None
            ) -> None:
                await ctx.session.report_progress(progress, total, message)

            return await remote.call_tool(
                params.name, params.arguments or {}, progress_callback=relay_progress
            )

        async def list_resources(ctx: Any, params: Any) -> types.ListResourcesResult:
            return await remote.list_resources()

        async def list_templates(ctx: Any, params: Any) -> types.ListResourceTemplatesResult:
            return await remote.list_resource_templates()

        async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> Any:
            return await remote.read_resource(str(params.uri))

        async def list_prompts(ctx: Any, params: Any) -> types.ListPromptsResult:
            return await remote.list_prompts()

        async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> Any:
            return await remote.get_prompt(params.name, params.arguments)

        async def complete(ctx: Any, params: types.CompleteRequestParams) -> Any:
            return await remote.complete(
                params.ref, {"name": params.argument.name, "value": params.argument.value}
            )

        async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                await remote.set_logging_level(params.level)
            return types.EmptyResult()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Server(
                info.server_info.name,
                version=info.server_info.version,
                instructions=info.instructions,
                on_list_tools=list_tools,
                on_call_tool=call_tool,
                on_list_resources=list_resources,
                on_list_resource_templates=list_templates,
                on_read_resource=read_resource,
                on_list_prompts=list_prompts,
                on_get_prompt=get_prompt,
                on_completion=complete,
                on_set_logging_level=set_level,
            )
