"""The gateway subscribes to a subgraph served on its own over WebSocket (distributed mode)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import uvicorn

from media_gateway.app import Platform
from media_gateway.app.serve import load_supergraph
from media_gateway.gateway.clients import HttpSubgraphClient, InProcessClient, SubgraphClient
from media_gateway.gateway.server import create_app

from .conftest import COMMANDS, SEND, Gateway, WsClient, listening_socket, new_viewer


async def test_remote_commands_through_a_websocket_upstream(platform: Platform) -> None:
    sync_socket = listening_socket()
    sync_port = sync_socket.getsockname()[1]
    sync_server = uvicorn.Server(
        uvicorn.Config(
            platform["sync"].asgi_app(),
            lifespan="off",
            log_config=None,
            log_level="warning",
            ws="websockets-sansio",
        )
    )
    sync_task = asyncio.create_task(sync_server.serve(sockets=[sync_socket]))
    while not sync_server.started:
        await asyncio.sleep(0.02)
    clients: dict[str, SubgraphClient] = {
        name: InProcessClient(s.schema, s.context) for name, s in platform.subgraphs.items()
    }
    clients["sync"] = HttpSubgraphClient(f"http://127.0.0.1:{sync_port}/graphql")
    gateway = Gateway(platform)
    gateway.app_factory = lambda: create_app(load_supergraph(), clients, graphiql=False)
    await gateway.start()
    tv = WsClient()
    try:
        viewer: dict[str, Any] = await new_viewer(gateway)
        await tv.connect(gateway.ws_url, viewer["token"])
        await tv.subscribe(COMMANDS, {"device": viewer["tv"]})
        await tv.nothing_within(0.5)
        await gateway.post(
            SEND, {"target": viewer["tv"], "command": {"type": "PAUSE"}, "ttl": 30}, viewer["token"]
        )
        got = (await tv.next_payload())["data"]["remoteCommands"]
        assert got["type"] == "PAUSE"
    finally:
        await tv.close()
        await gateway.stop()
        sync_server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(sync_task, 10)
        await clients["sync"].aclose()
