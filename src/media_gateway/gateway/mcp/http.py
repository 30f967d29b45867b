"""`/mcp`: the MCP server over Streamable HTTP on the gateway app.

The endpoint sits behind `auth.py`'s protection (the caller judged by the gateway's own
authenticator, the protected resource metadata routes beside it); each tool call then
carries the caller's `Authorization` / `x-api-key` into the request path, so the gateway
applies the same rules as on `/graphql`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from .auth import McpAuth, McpAuthConfig, operation_scopes
from .server import McpGateway

log = logging.getLogger("media_gateway.gateway.mcp")

PATH = "/mcp"


class McpEndpoint:
    """The Streamable HTTP endpoint of one `McpGateway` (sessions kept, so that a client
    hears of tool changes and can be asked to confirm)."""

    def __init__(self, gateway: McpGateway, authenticator: Any = None) -> None:
        self.gateway = gateway
        self.manager = StreamableHTTPSessionManager(app=gateway.server)
        auth = McpAuth(McpAuthConfig.from_env(path=PATH), authenticator, scopes=self._scopes)
        self._app: Callable[[Scope, Receive, Send], Any] = auth.protect(self.manager.handle_request)
        self._extra: list[BaseRoute] = list(auth.routes())

    def _scopes(self) -> set[str]:
        """What the tools offered now need (`@requiresScopes` on what they select): the
        scopes the protected resource metadata lists when none are configured."""
        supergraph = self.gateway.backend.supergraph()
        if supergraph is None:
            return set()
        return operation_scopes(supergraph, self.gateway.documents())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def routes(self) -> list[BaseRoute]:
        return [Route(PATH, self, methods=["GET", "POST", "DELETE"]), *self._extra]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The sessions' task group, in a task of its own (a lifespan may be entered and
        left in different tasks)."""
        started = asyncio.Event()
        stop = asyncio.Event()

        async def serve() -> None:
            async with self.manager.run():
                watcher = asyncio.create_task(self.gateway.watch())
                started.set()
                try:
                    await stop.wait()
                finally:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher

        task = asyncio.create_task(serve())
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if task.done():
            task.result()  # failed to start: raise why
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def with_endpoint(
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]],
    endpoint: McpEndpoint | None,
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """The app's lifespan with the MCP endpoint's sessions running inside it."""
    if endpoint is None:
        return lifespan

    @contextlib.asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        async with lifespan(app), endpoint.running():
            yield

    return run
