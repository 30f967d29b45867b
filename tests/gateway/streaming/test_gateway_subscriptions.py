"""Subscriptions through the gateway with real WebSocket, SSE and multipart clients."""

from __future__ import annotations

from typing import Any

from .conftest import COMMANDS, PROGRESS, SEND, START, TITLE, UPDATE, Gateway, WsClient


async def test_progress_from_the_phone_reaches_the_tv(
    gateway: Gateway, viewer: dict[str, Any]
) -> None:
    tv = WsClient()
    await tv.connect(gateway.ws_url, viewer["token"])
    try:
        await tv.subscribe(PROGRESS, {"device": viewer["tv"]})
        await tv.nothing_within(0.3)  # subscribed; nothing yet
        started = await gateway.post(START, {"c": TITLE, "d": viewer["phone"]}, viewer["token"])
        session = started["data"]["startPlayback"]["id"]
        first = await tv.next_payload()
        await gateway.post(UPDATE, {"s": session, "p": 754}, viewer["token"])
        second = await tv.next_payload()
    finally:
        await tv.close()
    assert "errors" not in second, second
    event = second["data"]["playbackProgress"]
    assert event["deviceId"] == viewer["phone"]
    assert event["positionSeconds"] == 754 and event["state"] == "PLAYING"
    assert event["content"]["title"] == "Arrival"
    assert event["content"]["availability"][0]["deepLink"]
    assert int(event["cursor"]) > int(first["data"]["playbackProgress"]["cursor"])


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def test_a_pause_reaches_only_its_target(gateway: Gateway, viewer: dict[str, Any]) -> None:
    tv, phone = WsClient(), WsClient()
    await tv.connect(gateway.ws_url, viewer["token"])
    await phone.connect(gateway.ws_url, viewer["token"])
    try:
        await tv.subscribe(COMMANDS, {"device": viewer["tv"]})
        await phone.subscribe(COMMANDS, {"device": viewer["phone"]})
        await tv.nothing_within(0.3)
        sent = await gateway.post(
            SEND, {"target": viewer["tv"], "command": {"type": "PAUSE"}, "ttl": 30}, viewer["token"]
        )
        assert "errors" not in sent, sent
        got = (await tv.next_payload())["data"]["remoteCommands"]
        assert got["type"] == "PAUSE" and got["targetDeviceId"] == viewer["tv"]
        assert got["id"] == sent["data"]["sendRemoteCommand"]["id"]
        assert await phone.nothing_within(0.5)
        cast = await gateway.post(
            SEND,
            {
                "target": viewer["tv"],
                "command": {"type": "CAST", "contentId": TITLE, "positionSeconds": 600},
                "ttl": 30,
            },
            viewer["token"],
        )
        assert "errors" not in cast, cast
        got = (await tv.next_payload())["data"]["remoteCommands"]
        assert (got["type"], got["positionSeconds"], got["content"]["title"]) == (
            "CAST",
            600,
            "Arrival",
        )
    finally:
        await tv.close()
        await phone.close()


async def test_foreign_devices_and_missing_capabilities_are_refused(
    gateway: Gateway, viewer: dict[str, Any]
) -> None:
    from .conftest import new_viewer

    other = await new_viewer(gateway)
    # sending to someone else's device
    body = await gateway.post(
        SEND, {"target": viewer["tv"], "command": {"type": "PAUSE"}, "ttl": 30}, other["token"]
    )
    assert codes(body) == ["NOT_FOUND"]  # as for an id that does not exist
    # listening to someone else's device
    spy = WsClient()
    await spy.connect(gateway.ws_url, other["token"])
    try:
        await spy.subscribe(COMMANDS, {"device": viewer["tv"]})
        payload = await spy.next_payload()
        assert codes(payload) == ["NOT_FOUND"]
        assert (await spy.receive())["type"] == "complete"
    finally:
        await spy.close()
    # a phone cannot be cast to; a TTL must be sensible; anonymous callers are refused
    body = await gateway.post(
        SEND,
        {"target": viewer["phone"], "command": {"type": "CAST", "contentId": TITLE}, "ttl": 30},
        viewer["token"],
    )
    assert codes(body) == ["CAPABILITY_MISSING"]
    body = await gateway.post(
        SEND, {"target": viewer["tv"], "command": {"type": "PAUSE"}, "ttl": 0}, viewer["token"]
    )
    assert codes(body) == ["BAD_USER_INPUT"]
    body = await gateway.post(
        SEND, {"target": viewer["tv"], "command": {"type": "PAUSE"}, "ttl": 30}
    )
    assert codes(body) == ["UNAUTHENTICATED"]


async def test_an_expired_command_is_never_delivered(
    gateway: Gateway, viewer: dict[str, Any]
) -> None:
    import asyncio

    token = viewer["token"]
    state = await gateway.post("{ syncState { cursor } }", token=token)
    cursor = state["data"]["syncState"]["cursor"]
    expired = await gateway.post(
        SEND, {"target": viewer["tv"], "command": {"type": "PLAY"}, "ttl": 1}, token
    )
    kept = await gateway.post(
        SEND, {"target": viewer["tv"], "command": {"type": "STOP"}, "ttl": 60}, token
    )
    assert "errors" not in expired and "errors" not in kept
    await asyncio.sleep(1.3)  # the TV was offline past the first command's time to live
    tv = WsClient()
    await tv.connect(gateway.ws_url, token)
    try:
        await tv.subscribe(COMMANDS, {"device": viewer["tv"], "since": cursor})
        got = (await tv.next_payload())["data"]["remoteCommands"]
        assert got["type"] == "STOP"
        assert await tv.nothing_within(0.4)
    finally:
        await tv.close()
    pending = await gateway.post(
        "query($d: ID!, $s: String) { syncState(deviceId: $d, since: $s) {"
        " pendingCommands { type } } }",
        {"d": viewer["tv"], "s": cursor},
        token,
    )
    assert pending["data"]["syncState"]["pendingCommands"] == [{"type": "STOP"}]


WATCHLIST = """
subscription($since: String) {
  watchlistChanged(since: $since) { cursor inWatchlist content { id title } }
}
"""
PRESENCE = """
subscription($since: String) { devicePresence(since: $since) { deviceId presence lastSeenAt } }
"""


async def cursor_now(gateway: Gateway, token: str) -> str:
    """Where the viewer's event log stands: subscribing `since` it misses nothing after."""
    body = await gateway.post("{ syncState { cursor } }", token=token)
    return str(body["data"]["syncState"]["cursor"])


async def test_sse_client_follows_the_watchlist(gateway: Gateway, viewer: dict[str, Any]) -> None:
    import asyncio

    from .conftest import sse_events

    received: list[dict[str, Any]] = []
    since = {"since": await cursor_now(gateway, viewer["token"])}

    async def listen() -> None:
        async for payload in sse_events(gateway.http_url, WATCHLIST, since, viewer["token"]):
            received.append(payload)
            if len(received) == 2:
                return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    assert await active_subscriptions(gateway) == 1  # the metrics gauge counts it
    add = "mutation($c: ID!) { addToWatchlist(contentId: $c) { id } }"
    remove = "mutation($c: ID!) { removeFromWatchlist(contentId: $c) { id } }"
    await gateway.post(add, {"c": TITLE}, viewer["token"])
    await gateway.post(remove, {"c": TITLE}, viewer["token"])
    await asyncio.wait_for(task, 10)
    await asyncio.sleep(0.2)
    assert await active_subscriptions(gateway) == 0
    changes = [p["data"]["watchlistChanged"] for p in received]
    assert [(c["inWatchlist"], c["content"]["title"]) for c in changes] == [
        (True, "Arrival"),
        (False, "Arrival"),
    ]


async def test_multipart_client_sees_devices_come_and_go(
    gateway: Gateway, viewer: dict[str, Any]
) -> None:
    import asyncio

    from .conftest import multipart_parts

    received: list[dict[str, Any]] = []
    since = {"since": await cursor_now(gateway, viewer["token"])}

    async def listen() -> None:
        async for part in multipart_parts(gateway.http_url, PRESENCE, since, viewer["token"]):
            received.append(part)
            if len(received) == 2:
                return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    tv = WsClient()
    await tv.connect(gateway.ws_url, viewer["token"])
    await tv.subscribe(COMMANDS, {"device": viewer["tv"]})
    await asyncio.sleep(0.3)
    await tv.close()
    await asyncio.wait_for(task, 10)
    events = [p["payload"]["data"]["devicePresence"] for p in received]
    assert [(e["deviceId"], e["presence"]) for e in events] == [
        (viewer["tv"], "ONLINE"),
        (viewer["tv"], "OFFLINE"),
    ]
    devices = await gateway.post(
        "{ me { devices { id presence lastSeenAt } } }", token=viewer["token"]
    )
    tv_row = next(d for d in devices["data"]["me"]["devices"] if d["id"] == viewer["tv"])
    assert tv_row["presence"] == "OFFLINE" and tv_row["lastSeenAt"]


async def test_legacy_graphql_ws_and_one_shared_upstream(
    gateway: Gateway, viewer: dict[str, Any]
) -> None:
    legacy, modern = WsClient("graphql-ws"), WsClient()
    await legacy.connect(gateway.ws_url, viewer["token"])
    await modern.connect(gateway.ws_url, viewer["token"])
    try:
        await legacy.subscribe(PROGRESS, {"device": viewer["tv"]})
        await modern.subscribe(PROGRESS, {"device": viewer["tv"]})
        await modern.nothing_within(0.3)
        assert gateway.streaming().hub.upstream_count == 1
        await gateway.post(START, {"c": TITLE, "d": viewer["phone"]}, viewer["token"])
        a = (await legacy.next_payload())["data"]["playbackProgress"]
        b = (await modern.next_payload())["data"]["playbackProgress"]
        assert a == b and a["content"]["title"] == "Arrival"
    finally:
        await legacy.close()
        await modern.close()


async def test_an_expired_token_ends_the_subscription(
    gateway: Gateway, viewer: dict[str, Any], settings: Any
) -> None:
    import dataclasses

    import websockets

    from media_gateway.auth.tokens import TokenService

    short = TokenService(dataclasses.replace(settings, jwt_access_token_ttl_seconds=1))
    token, _ = short.issue_access_token(viewer["id"])
    tv = WsClient()
    await tv.connect(gateway.ws_url, token)
    try:
        await tv.subscribe(COMMANDS, {"device": viewer["tv"]})
        try:
            while True:
                await tv.receive(timeout=5)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            assert closed.rcvd.code == 4401 and "expired" in closed.rcvd.reason
    finally:
        await tv.close()


async def active_subscriptions(gateway: Gateway) -> float:
    import httpx

    base = gateway.http_url.rsplit("/graphql", 1)[0]
    async with httpx.AsyncClient() as client:
        text = (await client.get(base + "/metrics")).text
    for line in text.splitlines():
        if line.startswith("gateway_active_subscriptions "):
            return float(line.split()[1])
    raise AssertionError("gateway_active_subscriptions is not exposed")
