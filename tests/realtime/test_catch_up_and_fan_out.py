"""Nothing is lost across a gateway restart; events cross gateway instances through Redis."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings

from .conftest import new_viewer
from .helpers import COMMANDS, PROGRESS, SEND, START, TITLE, UPDATE, Gateway, WsClient

REDIS_URL = os.environ.get("TEST_REDIS_URL")


@asynccontextmanager
async def running(settings: Settings, port: int | None = None) -> AsyncIterator[Gateway]:
    """A separate gateway process, as far as state goes: its own platform on the same storage."""
    platform = Platform.create(Runtime.create(settings))
    await platform.startup()
    gateway = Gateway(platform, port)
    try:
        await gateway.start()
        yield gateway
    finally:
        await gateway.stop()
        await platform.shutdown()


async def test_a_gateway_restart_mid_stream_loses_nothing(settings: Settings) -> None:
    async with running(settings) as other:
        async with running(settings) as first:
            port = first.port
            viewer = await new_viewer(first)
            token = viewer["token"]
            tv = WsClient()
            await tv.connect(first.ws_url, token)
            await tv.subscribe(PROGRESS, {"device": viewer["tv"]}, op_id="progress")
            await tv.subscribe(COMMANDS, {"device": viewer["tv"]}, op_id="commands")
            await tv.nothing_within(0.3)
            started = await first.post(START, {"c": TITLE, "d": viewer["phone"]}, token)
            session = started["data"]["startPlayback"]["id"]
            cursor = (await tv.next_payload())["data"]["playbackProgress"]["cursor"]
        # the TV's gateway is gone; the phone carries on through another instance
        await tv.close()
        await other.post(UPDATE, {"s": session, "p": 1200}, token)
        sent = await other.post(
            SEND, {"target": viewer["tv"], "command": {"type": "PAUSE"}, "ttl": 300}, token
        )
        assert "errors" not in sent, sent
        async with running(settings, port) as restarted:
            tv = WsClient()
            await tv.connect(restarted.ws_url, token)
            try:
                await tv.subscribe(PROGRESS, {"device": viewer["tv"], "since": cursor}, "progress")
                await tv.subscribe(COMMANDS, {"device": viewer["tv"], "since": cursor}, "commands")
                got: dict[str, Any] = {}
                for _ in range(2):
                    message = await tv.receive()
                    got[message["id"]] = message["payload"]["data"]
                assert got["progress"]["playbackProgress"]["positionSeconds"] == 1200
                assert got["commands"]["remoteCommands"]["type"] == "PAUSE"
                assert await tv.nothing_within(0.3)
            finally:
                await tv.close()


@pytest.mark.redis
@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set")
async def test_a_subscriber_on_one_instance_gets_events_written_through_another(
    settings: Settings,
) -> None:
    shared = dataclasses.replace(settings, redis_url=REDIS_URL)
    async with running(shared) as a, running(shared) as b:
        viewer = await new_viewer(b)
        token = viewer["token"]
        tv = WsClient()
        await tv.connect(a.ws_url, token)
        try:
            await tv.subscribe(PROGRESS, {"device": viewer["tv"]}, op_id="progress")
            await tv.subscribe(COMMANDS, {"device": viewer["tv"]}, op_id="commands")
            await tv.nothing_within(0.3)
            await b.post(START, {"c": TITLE, "d": viewer["phone"]}, token)
            message = await tv.receive()
            assert message["id"] == "progress"
            assert message["payload"]["data"]["playbackProgress"]["content"]["title"] == "Arrival"
            await b.post(
                SEND, {"target": viewer["tv"], "command": {"type": "PAUSE"}, "ttl": 30}, token
            )
            message = await tv.receive()
            assert message["id"] == "commands"
            assert message["payload"]["data"]["remoteCommands"]["type"] == "PAUSE"
        finally:
            await tv.close()
