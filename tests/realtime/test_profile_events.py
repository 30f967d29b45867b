"""Real-time events belong to a viewing profile: a subscriber hears its own profile's
watchlist and progress, and a restricted (kids) profile never receives a title above its
rating, live or caught up, in `watchlistChanged`, `playbackProgress` or `remoteCommands`.
Through the gateway, over WebSocket."""

from __future__ import annotations

from typing import Any

from .helpers import Gateway, WsClient

R_RATED, G_RATED = "movie:pulp-fiction-1994", "movie:toy-story-1995"
G_SECOND, G_THIRD = "movie:toy-story-2-1999", "movie:toy-story-3-2010"
WATCHLIST = """subscription($since: String) {
  watchlistChanged(since: $since) { cursor inWatchlist content { id } } }"""
PROGRESS = """subscription($since: String) {
  playbackProgress(since: $since) { cursor positionSeconds content { id } } }"""
COMMANDS = """subscription($device: ID!) {
  remoteCommands(deviceId: $device) { type content { id } } }"""
ADD = "mutation($c: ID!) { addToWatchlist(contentId: $c) { id } }"
START = """mutation($c: ID!, $d: ID!) {
  startPlayback(contentId: $c, deviceId: $d, durationSeconds: 5000) { id } }"""
CAST = """mutation($d: ID!, $c: ID!) {
  sendRemoteCommand(targetDeviceId: $d, command: {type: CAST, contentId: $c}) { id } }"""


async def ok(gateway: Gateway, query: str, variables: dict[str, Any], token: str) -> Any:
    body = await gateway.post(query, variables, token)
    assert "errors" not in body, body
    return body["data"]


async def switch(gateway: Gateway, token: str, profile_id: str) -> str:
    data = await ok(
        gateway,
        "mutation($p: ID!) { switchProfile(profileId: $p) { accessToken } }",
        {"p": profile_id},
        token,
    )
    return str(data["switchProfile"]["accessToken"])


async def listen(gateway: Gateway, token: str, query: str, variables: dict[str, Any]) -> WsClient:
    client = WsClient()
    await client.connect(gateway.ws_url, token)
    await client.subscribe(query, variables)
    return client


def title_of(payload: dict[str, Any], field: str) -> str | None:
    assert "errors" not in payload, payload
    content = payload["data"][field]["content"]
    return str(content["id"]) if content else None


async def test_a_kids_profile_never_hears_of_a_title_above_its_rating(
    gateway: Gateway, viewer: dict[str, Any]
) -> None:
    adult = viewer["token"]  # the account's default profile
    created = await ok(
        gateway,
        "mutation($i: CreateProfileInput!) { createProfile(input: $i) { id } }",
        {"i": {"name": "Younger"}},
        adult,
    )
    profile_id = created["createProfile"]["id"]
    # while the profile had no limit, it saved and started an R title, then a G one
    before = await switch(gateway, adult, profile_id)
    for title in (R_RATED, G_RATED):
        await ok(gateway, ADD, {"c": title}, before)
        await ok(gateway, START, {"c": title, "d": viewer["phone"]}, before)
    # then it became a kids profile
    await ok(
        gateway,
        "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { id } }",
        {"i": {"profileId": profile_id, "kids": True, "maxContentRating": "PG"}},
        adult,
    )
    kids = await switch(gateway, adult, profile_id)
    received: list[dict[str, Any]] = []
    watchlist = await listen(gateway, kids, WATCHLIST, {"since": "0"})
    progress = await listen(gateway, kids, PROGRESS, {"since": "0"})
    commands = await listen(gateway, kids, COMMANDS, {"device": viewer["tv"]})
    mine = await listen(gateway, adult, WATCHLIST, {})
    try:
        # catching up, the R title's events are left out: the G title's come first
        received.append(await watchlist.next_payload())
        assert title_of(received[-1], "watchlistChanged") == G_RATED
        received.append(await progress.next_payload())
        assert title_of(received[-1], "playbackProgress") == G_RATED
        assert await watchlist.nothing_within(0.3)
        assert await progress.nothing_within(0.1)
        # live: the default profile's own watchlist and playback are not the kids profile's,
        # and a title cast to the TV above the kids profile's rating does not reach it
        for title in (R_RATED, G_THIRD):
            await ok(gateway, ADD, {"c": title}, adult)
            await ok(gateway, START, {"c": title, "d": viewer["phone"]}, adult)
        await ok(gateway, CAST, {"d": viewer["tv"], "c": R_RATED}, adult)
        await ok(gateway, CAST, {"d": viewer["tv"], "c": G_RATED}, adult)
        received.append(await commands.next_payload())
        assert title_of(received[-1], "remoteCommands") == G_RATED
        # the kids profile's own next change reaches it, the default profile's did not
        await ok(gateway, ADD, {"c": G_SECOND}, kids)
        received.append(await watchlist.next_payload())
        assert title_of(received[-1], "watchlistChanged") == G_SECOND
        assert await progress.nothing_within(0.3)
        assert await commands.nothing_within(0.1)
        # the default profile heard its own changes only
        heard = [title_of(await mine.next_payload(), "watchlistChanged") for _ in range(2)]
        assert heard == [R_RATED, G_THIRD]
        assert await mine.nothing_within(0.3)
    finally:
        for client in (watchlist, progress, commands, mine):
            await client.close()
    assert R_RATED not in str(received)
    # what the kids profile catches up on later leaves the R title out as well
    state = await ok(
        gateway,
        'query($d: ID) { syncState(deviceId: $d, since: "0") { '
        "watchlistChanges { content { id } } pendingCommands { content { id } } } }",
        {"d": viewer["tv"]},
        kids,
    )
    assert R_RATED not in str(state) and G_RATED in str(state) and G_SECOND in str(state)
    assert G_THIRD not in str(state["syncState"]["watchlistChanges"])
