"""graphql-transport-ws as its reference client and raw frames meet it: the handshake, the
close codes the protocol specifies, and the same verdict on a token as over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import websockets

from media_gateway.auth.tokens import TokenService
from media_gateway.gateway import transports_ws

from .conftest import Gateway, new_viewer

CLIENTS = Path(__file__).parent / "node"


def graphql_ws_client(**options: Any) -> dict[str, Any]:
    """Run the graphql-ws npm client with these options; what it saw."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup.sh --dev installs the clients)"
    assert (CLIENTS / "node_modules" / "graphql-ws").is_dir(), (
        "the protocol clients are not installed: run scripts/setup.sh --dev"
    )
    done = subprocess.run(
        [node, str(CLIENTS / "graphql-ws-client.mjs"), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


async def run_client(**options: Any) -> dict[str, Any]:
    return await asyncio.to_thread(graphql_ws_client, **options)


def expired_token(gateway: Gateway, user_id: str) -> str:
    settings = gateway.platform.runtime.settings
    past = dataclasses.replace(settings, jwt_access_token_ttl_seconds=-120)
    token, _ = TokenService(past).issue_access_token(user_id)
    return token


async def test_the_reference_client_runs_operations_with_a_valid_token(gateway: Gateway) -> None:
    viewer = await new_viewer(gateway)
    report = await run_client(
        url=gateway.ws_url,
        connectionParams={"authorization": f"Bearer {viewer['token']}"},
        query="{ me { id } }",
    )
    assert report["acknowledged"] is True
    assert report["results"] == [{"data": {"me": {"id": viewer["id"]}}}]


async def test_a_refused_token_closes_the_connection_with_4403(gateway: Gateway) -> None:
    viewer = await new_viewer(gateway)
    forged = viewer["token"][:-4] + ("AAAA" if not viewer["token"].endswith("AAAA") else "BBBB")
    for token in (forged, expired_token(gateway, viewer["id"]), "not-a-jwt"):
        report = await run_client(
            url=gateway.ws_url,
            connectionParams={"authorization": f"Bearer {token}"},
            query="{ __typename }",
        )
        assert report["acknowledged"] is False, report
        assert report["closed"] == {"code": 4403, "reason": "Forbidden"}, report
        # over HTTP the same token makes no one: a private field is refused
        body = await gateway.post("{ me { id } }", token=token)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body


async def test_no_token_is_an_anonymous_connection_as_over_http(gateway: Gateway) -> None:
    report = await run_client(url=gateway.ws_url, query="{ __typename }")
    assert report["acknowledged"] is True
    assert report["results"] == [{"data": {"__typename": "Query"}}]
    refused = await run_client(url=gateway.ws_url, query="{ me { id } }")
    over_http = await gateway.post("{ me { id } }")
    assert refused["results"][0]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert over_http["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# ------------------------------------------------------------------------- raw frames
async def closed_with(ws: Any) -> tuple[int | None, str]:
    with pytest.raises(websockets.ConnectionClosed) as info:
        for _ in range(10):
            await asyncio.wait_for(ws.recv(), 5)
    rcvd = info.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")


async def send(ws: Any, message: Any) -> None:
    await ws.send(orjson.dumps(message).decode())


@pytest.mark.parametrize("offered", [["chat"], []])
async def test_an_unsupported_subprotocol_closes_with_4406(
    gateway: Gateway, offered: list[str]
) -> None:
    async with websockets.connect(gateway.ws_url, subprotocols=offered or None) as ws:  # type: ignore[arg-type]
        assert await closed_with(ws) == (4406, "Subprotocol not acceptable")


async def test_protocol_violations_close_with_their_codes(gateway: Gateway) -> None:
    async def connect() -> Any:
        return await websockets.connect(gateway.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]

    for payload in ("a string", 42, [1, 2]):
        ws = await connect()
        await send(ws, {"type": "connection_init", "payload": payload})
        assert await closed_with(ws) == (4400, "Invalid connection_init payload")

    ws = await connect()
    await ws.send("not json")
    assert (await closed_with(ws))[0] == 4400

    ws = await connect()
    await send(ws, {"type": "subscribe", "id": "1", "payload": {"query": "{ __typename }"}})
    assert await closed_with(ws) == (4401, "Unauthorized")

    ws = await connect()
    await send(ws, {"type": "connection_init"})
    assert orjson.loads(await ws.recv()) == {"type": "connection_ack"}
    await send(ws, {"type": "connection_init"})
    assert await closed_with(ws) == (4429, "Too many initialisation requests")


async def test_a_duplicate_operation_id_closes_with_4409(gateway: Gateway) -> None:
    viewer = await new_viewer(gateway)
    ws = await websockets.connect(gateway.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await send(
        ws,
        {"type": "connection_init", "payload": {"authorization": f"Bearer {viewer['token']}"}},
    )
    assert orjson.loads(await ws.recv()) == {"type": "connection_ack"}
    subscribe = {
        "type": "subscribe",
        "id": "same",
        "payload": {
            "query": "subscription($d: ID!) { remoteCommands(deviceId: $d) { id } }",
            "variables": {"d": viewer["tv"]},
        },
    }
    await send(ws, subscribe)
    await send(ws, subscribe)
    assert await closed_with(ws) == (4409, "Subscriber for same already exists")


async def test_no_connection_init_in_time_closes_with_4408(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transports_ws, "INIT_TIMEOUT", 0.2)
    ws = await websockets.connect(gateway.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    assert await closed_with(ws) == (4408, "Connection initialisation timeout")


async def test_a_session_revoked_while_subscribed_closes_the_connection_with_4403(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transports_ws, "RECHECK_SECONDS", 0.2)
    viewer = await new_viewer(gateway)
    ws = await websockets.connect(gateway.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await send(
        ws,
        {"type": "connection_init", "payload": {"authorization": f"Bearer {viewer['token']}"}},
    )
    assert orjson.loads(await ws.recv()) == {"type": "connection_ack"}
    await send(
        ws,
        {
            "type": "subscribe",
            "id": "commands",
            "payload": {
                "query": "subscription($d: ID!) { remoteCommands(deviceId: $d) { id } }",
                "variables": {"d": viewer["tv"]},
            },
        },
    )
    body = await gateway.post("mutation { logoutEverywhere }", token=viewer["token"])
    assert body == {"data": {"logoutEverywhere": True}}, body
    assert await closed_with(ws) == (4403, "Forbidden")
