"""Operations over WebSocket and SSE pass the same edge stages and router checks as plain
HTTP requests: limits, automatic persisted queries, rate limits and @authenticated."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from media_gateway.app import Platform

from .conftest import PROGRESS, START, TITLE, Gateway, WsClient, sse_events

SHALLOW = "subscription($device: ID) { playbackProgress(deviceId: $device) { positionSeconds } }"


@contextlib.asynccontextmanager
async def edge_gateway(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, **env: str
) -> AsyncIterator[Gateway]:
    """A second gateway on the same platform, with edge settings from `env`."""
    with monkeypatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        gw = Gateway(platform)
        await gw.start()  # the app (and its edge configuration) is built here
    try:
        yield gw
    finally:
        await gw.stop()


async def error_of(client: WsClient) -> dict[str, Any]:
    message = await client.receive()
    assert message["type"] == "error", message
    errors: list[dict[str, Any]] = message["payload"]
    assert len(errors) == 1, errors
    return errors[0]


async def test_operation_limits_refuse_a_subscription_before_any_subgraph(
    platform: Platform, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with edge_gateway(platform, monkeypatch, GATEWAY_MAX_DEPTH="3") as gw:
        tv = WsClient()
        await tv.connect(gw.ws_url, viewer["token"])
        try:
            await tv.subscribe(PROGRESS, {"device": viewer["tv"]})  # 4 levels deep
            error = await error_of(tv)
            assert error["extensions"]["code"] == "MAX_DEPTH_LIMIT"
            assert gw.streaming().hub.upstream_count == 0
            # a shallow one on the same connection is admitted
            await tv.subscribe(SHALLOW, {"device": viewer["tv"]})
            await tv.nothing_within(0.3)
            assert gw.streaming().hub.upstream_count == 1
        finally:
            await tv.close()
        # SSE: the same refusal as the stream's only event
        events = [
            e
            async for e in sse_events(
                gw.http_url, PROGRESS, {"device": viewer["tv"]}, viewer["token"]
            )
        ]
        assert [e["errors"][0]["extensions"]["code"] for e in events] == ["MAX_DEPTH_LIMIT"]


async def test_automatic_persisted_subscription_over_websocket(
    gateway: Gateway, viewer: dict[str, Any]
) -> None:
    digest = hashlib.sha256(SHALLOW.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    tv = WsClient()
    await tv.connect(gateway.ws_url, viewer["token"])
    try:
        # an unknown hash is part of the handshake: the client then sends the text with it
        await tv.send(
            {
                "id": "unknown",
                "type": "subscribe",
                "payload": {"extensions": persisted, "variables": {"device": viewer["tv"]}},
            }
        )
        error = await error_of(tv)
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        await tv.send(
            {
                "id": "register",
                "type": "subscribe",
                "payload": {
                    "query": SHALLOW,
                    "extensions": persisted,
                    "variables": {"device": viewer["tv"]},
                },
            }
        )
        await tv.nothing_within(0.3)
        await tv.send({"id": "register", "type": "complete"})
        # from now on the hash alone subscribes
        await tv.send(
            {
                "id": "by-hash",
                "type": "subscribe",
                "payload": {"extensions": persisted, "variables": {"device": viewer["tv"]}},
            }
        )
        await tv.nothing_within(0.3)
        await gateway.post(START, {"c": TITLE, "d": viewer["phone"]}, viewer["token"])
        message = await tv.receive()
        assert message["id"] == "by-hash" and message["type"] == "next", message
        assert message["payload"]["data"]["playbackProgress"]["positionSeconds"] == 0
    finally:
        await tv.close()


async def test_rate_limits_count_subscribe_messages(
    platform: Platform, viewer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with edge_gateway(platform, monkeypatch, GATEWAY_RATE_LIMIT="2") as gw:
        tv = WsClient()
        await tv.connect(gw.ws_url, viewer["token"])
        try:
            await tv.subscribe(SHALLOW, {"device": viewer["tv"]}, op_id="one")
            await tv.subscribe(SHALLOW, {"device": viewer["phone"]}, op_id="two")
            await tv.subscribe(SHALLOW, {}, op_id="three")
            error = await error_of(tv)
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert error["extensions"]["retryAfter"] >= 1
            # the two admitted subscriptions open their upstreams (on a busy machine, not
            # necessarily before the third one's refusal arrives)
            for _ in range(200):
                if gw.streaming().hub.upstream_count == 2:
                    break
                await asyncio.sleep(0.05)
            assert gw.streaming().hub.upstream_count == 2
        finally:
            await tv.close()


async def test_the_router_refuses_an_anonymous_subscription(
    gateway: Gateway, viewer: dict[str, Any]
) -> None:
    anonymous = WsClient()
    await anonymous.connect(gateway.ws_url, None)
    try:
        await anonymous.subscribe(SHALLOW, {"device": viewer["tv"]})
        error = await error_of(anonymous)
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert "playbackProgress" in error["message"]
        # refused by the router: the playback subgraph was never asked
        assert gateway.streaming().hub.upstream_count == 0
    finally:
        await anonymous.close()
