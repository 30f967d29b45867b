"""Profiles own their data: two profiles of one account keep their own watchlist, continue
watching, history, offline progress and recommendations; a caller without a profile (a
session before one is chosen, an API key) acts for the account's default profile. Through
the gateway."""

from __future__ import annotations

from typing import Any

from media_gateway.app import Platform

from .conftest import READ_SCOPES, Client, api_key, profile_token

TOY_STORY, ARRIVAL = "movie:toy-story-1995", "movie:arrival-2016"
ADD = "mutation($c: ID!) { addToWatchlist(contentId: $c) { id } }"
REMOVE = "mutation($c: ID!) { removeFromWatchlist(contentId: $c) { id } }"
DEVICE = 'mutation { registerDevice(name: "TV", kind: TV) { id } }'
WATCHLISTS = """{ me { watchlist { id } watchlistEntries { content { id } } }
  syncState { watchlist { content { id } } progress { content { id } positionSeconds } } }"""
WATCHING = """{ me { continueWatching { content { id } positionSeconds }
  watchHistory { totalCount edges { node { content { id } } } } } }"""
START = """mutation($c: ID!, $d: ID!) {
  startPlayback(contentId: $c, deviceId: $d, durationSeconds: 4860) { id resumeFromSeconds } }"""
UPDATE = """mutation($s: ID!, $p: Int!) {
  updatePlaybackProgress(sessionId: $s, positionSeconds: $p, state: PLAYING) { id } }"""
END = "mutation($s: ID!) { endPlayback(sessionId: $s) { id } }"
VIEWER_PROGRESS = "query($c: ID!) { content(id: $c) { viewerProgress { positionSeconds } } }"
SYNC = """mutation($d: ID!, $o: [SyncOperationInput!]!) {
  syncOperations(deviceId: $d, operations: $o) { applied } }"""
RECS = "{ me { recommendations(first: 5) { content { id } reasonKind basedOn { id } } } }"


async def ok(
    gateway: Client, query: str, variables: dict[str, Any] | None = None, **kw: Any
) -> Any:
    body = await gateway(query, variables, **kw)
    assert "errors" not in body, body
    return body["data"]


def watchlist_ids(data: dict[str, Any]) -> dict[str, list[str]]:
    return {
        "watchlist": [c["id"] for c in data["me"]["watchlist"]],
        "entries": [e["content"]["id"] for e in data["me"]["watchlistEntries"]],
        "syncState": [e["content"]["id"] for e in data["syncState"]["watchlist"]],
    }


async def _play(
    gateway: Client, token: str, device: str, title: str, position: int
) -> dict[str, Any]:
    started = (await ok(gateway, START, {"c": title, "d": device}, token=token))["startPlayback"]
    await ok(gateway, UPDATE, {"s": started["id"], "p": position}, token=token)
    await ok(gateway, END, {"s": started["id"]}, token=token)
    return dict(started)


async def test_two_profiles_of_one_account_keep_their_own_watchlists(
    gateway: Client, member: dict[str, Any]
) -> None:
    main = member["token"]  # signed in, no profile chosen: the account's default profile
    _, second = await profile_token(gateway, main, name="Second")
    await ok(gateway, ADD, {"c": TOY_STORY}, token=main)
    await ok(gateway, ADD, {"c": ARRIVAL}, token=second)
    assert watchlist_ids(await ok(gateway, WATCHLISTS, token=main)) == {
        "watchlist": [TOY_STORY],
        "entries": [TOY_STORY],
        "syncState": [TOY_STORY],
    }
    assert watchlist_ids(await ok(gateway, WATCHLISTS, token=second)) == {
        "watchlist": [ARRIVAL],
        "entries": [ARRIVAL],
        "syncState": [ARRIVAL],
    }
    # the same title on both: removing it from one profile leaves the other's
    await ok(gateway, ADD, {"c": TOY_STORY}, token=second)
    await ok(gateway, REMOVE, {"c": TOY_STORY}, token=main)
    assert watchlist_ids(await ok(gateway, WATCHLISTS, token=main))["watchlist"] == []
    assert sorted(
        watchlist_ids(await ok(gateway, WATCHLISTS, token=second))["watchlist"]
    ) == sorted([TOY_STORY, ARRIVAL])
    # an API key acts for the default profile
    key = await api_key(gateway, main, READ_SCOPES)
    await ok(gateway, ADD, {"c": ARRIVAL}, token=main)
    data = await ok(gateway, "{ me { watchlist { id } } }", headers={"x-api-key": key})
    assert [c["id"] for c in data["me"]["watchlist"]] == [ARRIVAL]


async def test_two_profiles_of_one_account_keep_their_own_progress_and_history(
    gateway: Client, member: dict[str, Any]
) -> None:
    main = member["token"]
    _, second = await profile_token(gateway, main, name="Second")
    device = (await ok(gateway, DEVICE, token=main))["registerDevice"]["id"]
    await _play(gateway, main, device, TOY_STORY, 1200)
    watching = (await ok(gateway, WATCHING, token=main))["me"]
    assert watching["continueWatching"] == [{"content": {"id": TOY_STORY}, "positionSeconds": 1200}]
    assert watching["watchHistory"]["totalCount"] == 1
    # the other profile has watched nothing
    watching = (await ok(gateway, WATCHING, token=second))["me"]
    assert watching["continueWatching"] == []
    assert watching["watchHistory"] == {"totalCount": 0, "edges": []}
    progress = await ok(gateway, VIEWER_PROGRESS, {"c": TOY_STORY}, token=second)
    assert progress["content"]["viewerProgress"] is None
    progress = await ok(gateway, VIEWER_PROGRESS, {"c": TOY_STORY}, token=main)
    assert progress["content"]["viewerProgress"] == {"positionSeconds": 1200}
    # each profile resumes where it left the title, on the same device
    theirs = await _play(gateway, second, device, TOY_STORY, 300)
    assert theirs["resumeFromSeconds"] == 0
    again = (await ok(gateway, START, {"c": TOY_STORY, "d": device}, token=main))["startPlayback"]
    assert again["resumeFromSeconds"] == 1200
    session = "query($s: ID!) { playbackSession(id: $s) { id } }"
    assert (await ok(gateway, session, {"s": again["id"]}, token=main))["playbackSession"]
    assert (await ok(gateway, session, {"s": again["id"]}, token=second))["playbackSession"] is None
    watching = (await ok(gateway, WATCHING, token=second))["me"]
    assert watching["continueWatching"] == [{"content": {"id": TOY_STORY}, "positionSeconds": 300}]
    assert [e["node"]["content"]["id"] for e in watching["watchHistory"]["edges"]] == [TOY_STORY]
    assert (await ok(gateway, WATCHING, token=main))["me"]["watchHistory"]["totalCount"] == 1
    # progress replayed from a device's offline queue is the sending profile's too
    op = {
        "id": "second-progress-1",
        "type": "PROGRESS",
        "contentId": ARRIVAL,
        "hlc": await _hlc(gateway, second),
        "positionSeconds": 900,
    }
    await ok(gateway, SYNC, {"d": device, "o": [op]}, token=second)
    mine = (await ok(gateway, WATCHLISTS, token=second))["syncState"]["progress"]
    assert mine == [{"content": {"id": ARRIVAL}, "positionSeconds": 900}]
    assert (await ok(gateway, WATCHLISTS, token=main))["syncState"]["progress"] == []


async def _hlc(gateway: Client, token: str) -> str:
    """A clock reading of the server's: a device's next operation may carry it."""
    return str((await ok(gateway, "{ syncState { hlc } }", token=token))["syncState"]["hlc"])


async def test_recommendations_learn_from_the_profiles_own_history(
    platform: Platform, gateway: Client, member: dict[str, Any]
) -> None:
    main = member["token"]
    _, second = await profile_token(gateway, main, name="Second")
    device = (await ok(gateway, DEVICE, token=main))["registerDevice"]["id"]
    await _play(gateway, main, device, TOY_STORY, 4860)  # watched to the end
    await platform["playback"].service.outbox.relay(platform.runtime.events)
    picked = (await ok(gateway, RECS, token=main))["me"]["recommendations"]
    assert {"id": TOY_STORY} in [r["basedOn"] for r in picked]
    assert TOY_STORY not in {r["content"]["id"] for r in picked}
    # the other profile has no history: what it gets is not based on the first one's
    theirs = (await ok(gateway, RECS, token=second))["me"]["recommendations"]
    assert theirs and all(r["basedOn"] is None for r in theirs)
    assert all(r["reasonKind"] != "WATCHED_SIMILAR" for r in theirs)
