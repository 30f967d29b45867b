"""The PubNub bridge: events written through the gateway reach the member's PubNub channel.

The PubNub SDK publishes over HTTP to the origin it is configured with (``PUBNUB_ORIGIN``);
here that origin is a local HTTP endpoint answering as PubNub's publish API does, so the
test sees exactly what the SDK sends: the channel and the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings
from media_gateway.realtime.pubnub_bridge import PubNubBridge

from .conftest import new_viewer
from .helpers import Gateway, listening_socket

pytest.importorskip("pubnub")

SEND = """mutation($target: ID!) {
  sendRemoteCommand(targetDeviceId: $target, command: {type: PAUSE}, ttlSeconds: 30) { id }
}"""


class PublishEndpoint:
    """Answers ``/publish/<pub>/<sub>/<signature>/<channel>/<callback>/<message>``."""

    def __init__(self) -> None:
        self.published: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue()
        self.hold = asyncio.Event()  # cleared: answers wait until it is set
        self.hold.set()
        self.port = 0

    def taken(self) -> list[tuple[str, str, dict[str, Any]]]:
        """What was published so far: (publish key, channel, message)."""
        published = []
        while not self.published.empty():
            published.append(self.published.get_nowait())
        return published

    async def publish(self, request: Request) -> JSONResponse:
        params = request.path_params
        message = json.loads(unquote(params["message"]))
        await self.published.put((params["pub"], params["channel"], message))
        await self.hold.wait()
        return JSONResponse([1, "Sent", "17000000000000000"])

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        app = Starlette(
            routes=[
                Route(
                    "/publish/{pub}/{sub}/{signature}/{channel}/{callback}/{message:path}",
                    self.publish,
                )
            ]
        )
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
        sock = listening_socket()
        self.port = sock.getsockname()[1]
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                await asyncio.sleep(0.01)
            yield
        finally:
            self.hold.set()
            server.should_exit = True
            await task


@pytest.fixture
async def pubnub() -> AsyncIterator[PublishEndpoint]:
    endpoint = PublishEndpoint()
    async with endpoint.serving():
        yield endpoint


@pytest.fixture
async def bridged(settings: Settings, pubnub: PublishEndpoint) -> AsyncIterator[Gateway]:
    """A gateway whose platform bridges its events to the local PubNub origin."""
    configured = dataclasses.replace(
        settings,
        pubnub_publish_key="pub-c-test",
        pubnub_subscribe_key="sub-c-test",
        pubnub_origin=f"http://127.0.0.1:{pubnub.port}",
    )
    platform = Platform.create(Runtime.create(configured))
    await platform.startup()
    gateway = Gateway(platform)
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()
        await platform.shutdown()


def the_bridge(gateway: Gateway) -> PubNubBridge:
    [bridge] = gateway.platform.subgraphs["sync"].service.realtime.bridges
    assert isinstance(bridge, PubNubBridge)
    return bridge


async def test_a_remote_command_reaches_the_members_pubnub_channel(
    bridged: Gateway, pubnub: PublishEndpoint
) -> None:
    viewer = await new_viewer(bridged)
    sent = await bridged.post(SEND, {"target": viewer["tv"]}, viewer["token"])
    assert "errors" not in sent, sent
    await the_bridge(bridged).drain()
    published = pubnub.taken()
    commands = [m for _, _, m in published if m["kind"] == "command"]
    assert len(commands) == 1
    [(key, channel, _)] = [p for p in published if p[2]["kind"] == "command"]
    assert key == "pub-c-test"
    assert channel == f"media-gateway.{viewer['id']}"
    assert commands[0]["payload"]["type"] == "PAUSE"
    assert commands[0]["payload"]["targetDeviceId"] == viewer["tv"]
    assert commands[0]["deviceId"] == viewer["tv"]


async def test_a_stalled_pubnub_never_holds_the_writer(
    bridged: Gateway, pubnub: PublishEndpoint
) -> None:
    viewer = await new_viewer(bridged)
    await the_bridge(bridged).drain()
    pubnub.taken()  # what registering the devices published
    pubnub.hold.clear()  # PubNub stops answering
    first = await bridged.post(SEND, {"target": viewer["tv"]}, viewer["token"])
    assert "errors" not in first, first
    _, _, held = await asyncio.wait_for(pubnub.published.get(), 10)
    assert held["payload"]["type"] == "PAUSE"  # the first is being published...
    # ...and still unanswered, yet the next command is accepted and answered
    second = await bridged.post(SEND, {"target": viewer["tv"]}, viewer["token"])
    assert "errors" not in second, second
    assert not pubnub.hold.is_set()
    pubnub.hold.set()
    await the_bridge(bridged).drain()
    _, _, message = await asyncio.wait_for(pubnub.published.get(), 10)
    assert message["payload"]["type"] == "PAUSE"  # delivered once PubNub answered again
