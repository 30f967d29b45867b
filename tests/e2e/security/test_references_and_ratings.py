"""References are checked where they are written, and a restricted profile never adds, plays
or sees a title above its rating, ids included; through the gateway."""

from __future__ import annotations

import uuid
from typing import Any

from .conftest import PASSWORD, Client, error_codes, login, profile_token

ADD = "mutation($c: ID!) { addToWatchlist(contentId: $c) { id } }"
PLAY = "mutation($c: ID!, $d: ID!) { startPlayback(contentId: $c, deviceId: $d) { id } }"
OUTCOME = "mutation($c: ID!) { recordRecommendationOutcome(contentId: $c, kind: CLICK) }"
DEVICE = 'mutation { registerDevice(name: "TV", kind: TV) { id } }'
WATCHLIST = "{ me { watchlist { id title } } }"
STATE = "{ syncState { watchlist { content { id } } progress { content { id } } } }"


async def _rated(gateway: Client, query: str, rating: str) -> str:
    body = await gateway(
        "query($q: String!) { search(query: $q, first: 20) "
        "{ edges { node { id contentRating } } } }",
        {"q": query},
    )
    return next(
        e["node"]["id"]
        for e in body["data"]["search"]["edges"]
        if e["node"]["contentRating"] == rating
    )


async def _device(gateway: Client, token: str) -> str:
    body = await gateway(DEVICE, token=token)
    assert "errors" not in body, body
    return str(body["data"]["registerDevice"]["id"])


async def test_unknown_titles_are_not_found_and_nothing_is_written(
    gateway: Client, member: dict[str, Any]
) -> None:
    token, missing = member["token"], "movie:no-such-title-1900"
    device = await _device(gateway, token)
    for document in (ADD, PLAY, OUTCOME):
        body = await gateway(document, {"c": missing, "d": device}, token=token)
        assert error_codes(body) == ["NOT_FOUND"], body
    ops = """mutation($d: ID!, $o: [SyncOperationInput!]!) {
      syncOperations(deviceId: $d, operations: $o) { applied } }"""
    op = {"id": "op-1", "type": "WATCHLIST_ADD", "contentId": missing, "hlc": "1"}
    body = await gateway(ops, {"d": device, "o": [op]}, token=token)
    assert error_codes(body) == ["NOT_FOUND"], body
    # nothing was written: the watchlist answers, empty, titles and all
    body = await gateway(WATCHLIST, token=token)
    assert "errors" not in body and body["data"]["me"]["watchlist"] == [], body
    watching = await gateway("{ me { continueWatching { content { id } } } }", token=token)
    assert watching["data"]["me"]["continueWatching"] == []
    # a real title goes through
    title = await _rated(gateway, "Toy Story", "G")
    assert "errors" not in await gateway(ADD, {"c": title}, token=token)
    body = await gateway(WATCHLIST, token=token)
    assert [c["id"] for c in body["data"]["me"]["watchlist"]] == [title]
    assert body["data"]["me"]["watchlist"][0]["title"]


async def test_playback_on_an_unknown_or_another_members_device_is_not_found(
    gateway: Client, member: dict[str, Any]
) -> None:
    email = f"other-{uuid.uuid4().hex[:8]}@example.com"
    registered = await gateway(
        """mutation($e: String!, $p: String!) {
          register(input: {email: $e, password: $p, displayName: "Other"}) { id } }""",
        {"e": email, "p": PASSWORD},
    )
    assert "errors" not in registered, registered
    other = (await login(gateway, email, PASSWORD))["accessToken"]
    theirs = await _device(gateway, other)
    title = await _rated(gateway, "Toy Story", "G")
    cursor = "{ syncState { cursor } }"  # moves with every event the account records
    before = await gateway(cursor, token=member["token"])
    # one answer for another member's device and for an id that does not exist: nobody
    # learns which device ids exist
    foreign = await gateway(PLAY, {"c": title, "d": theirs}, token=member["token"])
    assert error_codes(foreign) == ["NOT_FOUND"], foreign
    unknown = await gateway(
        PLAY, {"c": title, "d": "device-that-does-not-exist"}, token=member["token"]
    )
    assert error_codes(unknown) == ["NOT_FOUND"], unknown
    assert foreign["errors"][0]["message"] == unknown["errors"][0]["message"]
    # and nothing was written: no session, no progress, no event
    assert await gateway(cursor, token=member["token"]) == before
    for token in (member["token"], other):
        watching = await gateway(
            "{ me { continueWatching { content { id } } watchHistory { totalCount } } }",
            token=token,
        )
        assert "errors" not in watching, watching
        assert watching["data"]["me"]["continueWatching"] == []
        assert watching["data"]["me"]["watchHistory"]["totalCount"] == 0
    # a remote command to another member's device gets the same answer
    send = """mutation($d: ID!) {
      sendRemoteCommand(targetDeviceId: $d, command: {type: PAUSE}) { id } }"""
    refused = await gateway(send, {"d": theirs}, token=member["token"])
    assert error_codes(refused) == ["NOT_FOUND"], refused
    mine = await _device(gateway, member["token"])
    assert "errors" not in await gateway(PLAY, {"c": title, "d": mine}, token=member["token"])
    assert await gateway(cursor, token=member["token"]) != before


async def test_a_kids_profile_cannot_add_play_or_see_titles_above_its_rating(
    gateway: Client, member: dict[str, Any]
) -> None:
    adult = member["token"]
    r_rated = await _rated(gateway, "Pulp Fiction", "R")
    g_rated = await _rated(gateway, "Toy Story", "G")
    device = await _device(gateway, adult)
    # the grown-up saves and starts an R title
    assert "errors" not in await gateway(ADD, {"c": r_rated}, token=adult)
    assert "errors" not in await gateway(PLAY, {"c": r_rated, "d": device}, token=adult)
    _, kids = await profile_token(gateway, adult, name="Kids", kids=True)
    # the kids profile can neither add nor play it
    assert error_codes(await gateway(ADD, {"c": r_rated}, token=kids)) == ["FORBIDDEN"]
    body = await gateway(PLAY, {"c": r_rated, "d": device}, token=kids)
    assert error_codes(body) == ["FORBIDDEN"]
    # nor see its id anywhere
    assert "errors" not in await gateway(ADD, {"c": g_rated}, token=kids)
    for document in (WATCHLIST, STATE, "{ me { watchlistEntries { content { id } } } }"):
        body = await gateway(document, token=kids)
        assert "errors" not in body, body
        assert r_rated not in str(body) and g_rated in str(body), body
    watching = await gateway("{ me { continueWatching { content { id } } } }", token=kids)
    assert r_rated not in str(watching)
