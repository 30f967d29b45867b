"""Sync: watchlist and devices."""

from __future__ import annotations

from typing import Any

from media_gateway.platform.demo import DEMO_USER_ID, DEMO_WATCHLIST

from ..conftest import GraphQLClient, entity_query, error_codes

WATCHLIST = entity_query("... on User { watchlist { id } devices { name kind capabilities } }")
ADD = "mutation($c: ID!) { addToWatchlist(contentId: $c) { id watchlist { id } } }"
REMOVE = "mutation($c: ID!) { removeFromWatchlist(contentId: $c) { watchlist { id } } }"


async def test_demo_watchlist_and_devices(
    clients: dict[str, GraphQLClient], demo_token: str
) -> None:
    body = await clients["sync"](
        WATCHLIST, {"r": [{"__typename": "User", "id": DEMO_USER_ID}]}, token=demo_token
    )
    user = body["data"]["_entities"][0]
    assert [c["id"] for c in user["watchlist"]] == list(DEMO_WATCHLIST)
    assert {d["kind"] for d in user["devices"]} == {"TV", "PHONE"}


async def test_add_and_remove_are_idempotent(
    clients: dict[str, GraphQLClient], new_user: dict[str, Any]
) -> None:
    sync, token = clients["sync"], new_user["token"]
    await sync(ADD, {"c": "movie:alien-1979"}, token=token)
    body = await sync(ADD, {"c": "movie:aliens-1986"}, token=token)
    body = await sync(ADD, {"c": "movie:alien-1979"}, token=token)
    assert [c["id"] for c in body["data"]["addToWatchlist"]["watchlist"]] == [
        "movie:aliens-1986",
        "movie:alien-1979",
    ]
    body = await sync(REMOVE, {"c": "movie:alien-1979"}, token=token)
    body = await sync(REMOVE, {"c": "movie:alien-1979"}, token=token)
    assert body["data"]["removeFromWatchlist"]["watchlist"] == [{"id": "movie:aliens-1986"}]


async def test_register_device(clients: dict[str, GraphQLClient], new_user: dict[str, Any]) -> None:
    sync, token = clients["sync"], new_user["token"]
    body = await sync(
        """mutation { registerDevice(name: " Bedroom TV ", kind: TV,
             capabilities: [UHD, HDR, UHD]) { id name kind capabilities } }""",
        token=token,
    )
    device = body["data"]["registerDevice"]
    assert (device["name"], device["kind"], device["capabilities"]) == (
        "Bedroom TV",
        "TV",
        ["UHD", "HDR"],
    )
    # without capabilities a device gets its kind's: a TV can be remote-controlled
    defaults = await sync(
        """mutation { tv: registerDevice(name: "TV", kind: TV) { capabilities }
             phone: registerDevice(name: "Phone", kind: PHONE) { capabilities } }""",
        token=token,
    )
    assert defaults["data"] == {
        "tv": {"capabilities": ["CAST_TARGET", "REMOTE_CONTROL", "VOLUME_CONTROL"]},
        "phone": {"capabilities": ["CAST_SOURCE"]},
    }
    free_text = await sync(
        'mutation { registerDevice(name: "x", kind: TV, capabilities: ["remote-control"]) { id } }',
        token=token,
    )
    assert "DeviceCapability" in free_text["errors"][0]["message"]
    blank = await sync('mutation { registerDevice(name: "  ", kind: PHONE) { id } }', token=token)
    assert error_codes(blank) == ["BAD_USER_INPUT"]
    anonymous = await sync('mutation { registerDevice(name: "x", kind: PHONE) { id } }')
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]


async def test_watchlists_of_others_are_private(
    clients: dict[str, GraphQLClient], new_user: dict[str, Any]
) -> None:
    body = await clients["sync"](
        WATCHLIST, {"r": [{"__typename": "User", "id": DEMO_USER_ID}]}, token=new_user["token"]
    )
    assert "FORBIDDEN" in error_codes(body)
