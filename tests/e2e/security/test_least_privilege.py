"""Credentials do only what they were granted: the cases the scope model was made for, through
the gateway, and every secured root field refused by its own subgraph as well."""

from __future__ import annotations

from typing import Any

import httpx

from media_gateway.app import Platform
from media_gateway.gateway.supergraph import Supergraph

from .conftest import Caller, Client, api_key, error_codes, oauth_token
from .test_scope_policy import INTROSPECTION, Schema, chosen

WRITES = {
    "addToWatchlist": "mutation($c: ID!) { addToWatchlist(contentId: $c) { id } }",
    "removeFromWatchlist": "mutation($c: ID!) { removeFromWatchlist(contentId: $c) { id } }",
    "registerDevice": 'mutation { registerDevice(name: "Tablet", kind: TABLET) { id } }',
    "startPlayback": """mutation($c: ID!, $d: ID!) {
      startPlayback(contentId: $c, deviceId: $d) { id } }""",
    "recordRecommendationOutcome": """mutation($c: ID!) {
      recordRecommendationOutcome(contentId: $c, kind: CLICK) }""",
    "sendRemoteCommand": """mutation($d: ID!) {
      sendRemoteCommand(targetDeviceId: $d, command: {type: PAUSE}) { id } }""",
}


async def _title(gateway: Client) -> str:
    found = await gateway('{ search(query: "", first: 1) { edges { node { id } } } }')
    return str(found["data"]["search"]["edges"][0]["node"]["id"])


async def _device(gateway: Client, token: str) -> str:
    body = await gateway('mutation { registerDevice(name: "TV", kind: TV) { id } }', token=token)
    assert "errors" not in body, body
    return str(body["data"]["registerDevice"]["id"])


async def _watchlist(gateway: Client, token: str) -> list[str]:
    body = await gateway("{ me { watchlist { id } } }", token=token)
    assert "errors" not in body, body
    return [c["id"] for c in body["data"]["me"]["watchlist"]]


async def test_a_catalog_read_key_cannot_write_or_read_private_state(
    gateway: Client, member: dict[str, Any]
) -> None:
    title, device = await _title(gateway), await _device(gateway, member["token"])
    key = await api_key(gateway, member["token"], ["catalog:read"])
    headers = {"x-api-key": key}
    for name, document in WRITES.items():
        body = await gateway(document, {"c": title, "d": device}, headers=headers)
        assert error_codes(body) == ["FORBIDDEN"], (name, body)
    state = await gateway("{ syncState { cursor watchlist { content { id } } } }", headers=headers)
    assert error_codes(state) == ["FORBIDDEN"] and state["data"] is None
    # nothing was written
    assert await _watchlist(gateway, member["token"]) == []
    devices = await gateway("{ me { devices { id } } }", token=member["token"])
    assert [d["id"] for d in devices["data"]["me"]["devices"]] == [device]
    # what it was granted still works
    assert "errors" not in await gateway(
        "query($id: ID!) { content(id: $id) { id } }", {"id": title}, headers=headers
    )


async def test_a_third_party_app_with_read_scopes_cannot_write(
    gateway: Client, identity_app: Client, member: dict[str, Any]
) -> None:
    title, device = await _title(gateway), await _device(gateway, member["token"])
    token = await oauth_token(gateway, identity_app, member["token"], "catalog:read sync:read")
    for name, document in WRITES.items():
        body = await gateway(document, {"c": title, "d": device}, token=token)
        assert error_codes(body) == ["FORBIDDEN"], (name, body)
    assert await _watchlist(gateway, member["token"]) == []
    # it may read what it was granted
    state = await gateway("{ syncState { cursor } }", token=token)
    assert "errors" not in state, state


async def test_subgraphs_refuse_on_their_own(
    platform: Platform, gateway: Client, member: dict[str, Any], supergraph_sdl: str
) -> None:
    """Each subgraph enforces the requirements of its root fields itself: a request reaching
    it without the gateway is refused the same way."""
    key = await api_key(gateway, member["token"], ["catalog:read"])
    callers = [
        (Caller("catalog key", {"x-api-key": key}), "FORBIDDEN"),
        (Caller("anonymous"), "UNAUTHENTICATED"),
    ]
    known = {"$content": await _title(gateway), "$device": await _device(gateway, member["token"])}
    supergraph = Supergraph(supergraph_sdl)
    checked = 0
    for name, subgraph in platform.subgraphs.items():
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=subgraph.asgi_app()), base_url="http://subgraph"
        ) as http:
            response = await http.post("/graphql", json={"query": INTROSPECTION})
            schema = Schema(response.json()["data"])
            for kind in ("query", "mutation"):
                root = schema.roots[kind]
                if root is None:
                    continue
                for field_name, field in schema.fields(root).items():
                    requirement = supergraph.requirements.get((str(root), field_name))
                    if requirement is None or field_name == "logoutEverywhere":
                        continue
                    definitions, text, variables = schema.call(
                        field, chosen(f"{root}.{field_name}", known)
                    )
                    document = f"{kind}{definitions} {{ {text} }}"
                    for caller, code in callers:
                        if code == "FORBIDDEN" and not requirement.scopes:
                            continue  # needs a signed-in caller only
                        response = await http.post(
                            "/graphql",
                            json={"query": document, "variables": variables},
                            headers=caller.headers,
                        )
                        body = response.json()
                        assert error_codes(body)[:1] == [code], (name, field_name, caller, body)
                        checked += 1
    assert checked > 20


async def test_subgraphs_refuse_subscriptions_on_their_own(
    platform: Platform, gateway: Client, member: dict[str, Any]
) -> None:
    key = await api_key(gateway, member["token"], ["catalog:read"])
    device = await _device(gateway, member["token"])
    documents = {
        "sync": [
            "subscription { watchlistChanged { cursor } }",
            "subscription { devicePresence { cursor } }",
            f'subscription {{ remoteCommands(deviceId: "{device}") {{ id }} }}',
        ],
        "playback": ["subscription { playbackProgress { cursor } }"],
    }
    for name, subscriptions in documents.items():
        subgraph = platform[name]
        for document in subscriptions:
            for headers, code in (({"x-api-key": key}, "FORBIDDEN"), ({}, "UNAUTHENTICATED")):
                context = await subgraph.context(headers)
                stream = await subgraph.schema.subscribe(document, context_value=context)
                first = await stream.__anext__()  # type: ignore[union-attr]
                await stream.aclose()  # type: ignore[union-attr]
                codes = [(e.extensions or {}).get("code") for e in first.errors or []]
                assert codes == [code], (name, document, first)
