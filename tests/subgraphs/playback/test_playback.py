"""Playback: sessions, resume rules, continue-watching, history, the outbox."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from media_gateway.assembly.base import Runtime
from media_gateway.platform.demo import DEMO_USER_ID
from media_gateway.subgraphs.playback.models import OutboxEventRecord
from media_gateway.subgraphs.playback.resume import resume_point

from ..conftest import GraphQLClient, entity_query, error_codes
from .conftest import KnownDevices, subject_of

START = """mutation($c: ID!, $d: ID!, $len: Int) {
  startPlayback(contentId: $c, deviceId: $d, durationSeconds: $len) {
    id state resumeFromSeconds positionSeconds content { id } } }"""
UPDATE = """mutation($s: ID!, $p: Int!, $state: PlaybackState!) {
  updatePlaybackProgress(sessionId: $s, positionSeconds: $p, state: $state) {
    id state positionSeconds } }"""
END = """mutation($s: ID!) { endPlayback(sessionId: $s) { id state endedAt } }"""


def test_resume_rules() -> None:
    assert resume_point(29, 6000, False) == 0  # under 30 s: start over
    assert resume_point(30, 6000, False) == 30
    assert resume_point(5699, 6000, False) == 5699
    assert resume_point(5700, 6000, False) == 0  # 95% watched: finished
    assert resume_point(500, None, False) == 500
    assert resume_point(500, 6000, True) == 0


class NamedDevices:
    """The playback subgraph, with devices named in the variables ("tv", "phone"): each name
    is registered once per account (a session starts only on one of the caller's devices)."""

    def __init__(self, clients: dict[str, GraphQLClient], devices: KnownDevices) -> None:
        self.clients = clients
        self.devices = devices
        self.ids: dict[tuple[str, str], str] = {}

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        if variables and "d" in variables and token:
            key = (token, str(variables["d"]))
            if key not in self.ids:
                self.ids[key] = self.devices.register(subject_of(token))
            variables = {**variables, "d": self.ids[key]}
        return await self.clients["playback"](query, variables, token=token)


async def _play(
    client: NamedDevices, token: str, content: str, position: int, length: int = 6000
) -> str:
    started = await client(START, {"c": content, "d": "phone-1", "len": length}, token=token)
    session_id: str = started["data"]["startPlayback"]["id"]
    await client(UPDATE, {"s": session_id, "p": position, "state": "PAUSED"}, token=token)
    return session_id


async def test_start_update_resume_end(
    clients: dict[str, GraphQLClient], devices: KnownDevices, new_user: dict[str, Any]
) -> None:
    playback, token = NamedDevices(clients, devices), new_user["token"]
    first = await playback(START, {"c": "movie:heat-1995", "d": "tv", "len": 10200}, token=token)
    assert first["data"]["startPlayback"]["resumeFromSeconds"] == 0
    session_id = first["data"]["startPlayback"]["id"]
    moved = await playback(UPDATE, {"s": session_id, "p": 1800, "state": "PAUSED"}, token=token)
    assert moved["data"]["updatePlaybackProgress"] == {
        "id": session_id,
        "state": "PAUSED",
        "positionSeconds": 1800,
    }
    ended = await playback(END, {"s": session_id}, token=token)
    assert ended["data"]["endPlayback"]["state"] == "ENDED"
    again = await playback(START, {"c": "movie:heat-1995", "d": "phone"}, token=token)
    assert again["data"]["startPlayback"]["resumeFromSeconds"] == 1800
    late = await playback(UPDATE, {"s": session_id, "p": 10, "state": "PLAYING"}, token=token)
    assert error_codes(late) == ["SESSION_ENDED"]


async def test_progress_stays_within_the_title_and_the_owners_sessions(
    clients: dict[str, GraphQLClient],
    devices: KnownDevices,
    new_user: dict[str, Any],
    demo_token: str,
) -> None:
    playback, token = NamedDevices(clients, devices), new_user["token"]
    started = await playback(START, {"c": "movie:up-2009", "d": "tv", "len": 600}, token=token)
    session_id = started["data"]["startPlayback"]["id"]
    past_end = await playback(UPDATE, {"s": session_id, "p": 9999, "state": "PLAYING"}, token=token)
    assert past_end["data"]["updatePlaybackProgress"]["positionSeconds"] == 600
    foreign = await playback(UPDATE, {"s": session_id, "p": 5, "state": "PAUSED"}, token=demo_token)
    assert error_codes(foreign) == ["NOT_FOUND"]
    missing = await playback(
        UPDATE, {"s": "no-such-session", "p": 5, "state": "PAUSED"}, token=token
    )
    assert error_codes(missing) == ["NOT_FOUND"]
    # a later session that does not know the length: the title's known length still decides
    # when it counts as finished (590 of 600 s), so it no longer resumes
    again = await playback(START, {"c": "movie:up-2009", "d": "phone"}, token=token)
    unknown_length = again["data"]["startPlayback"]["id"]
    for position in (120, 590):
        moved = await playback(
            UPDATE, {"s": unknown_length, "p": position, "state": "PLAYING"}, token=token
        )
        assert moved["data"]["updatePlaybackProgress"]["positionSeconds"] == position
    last = await playback(START, {"c": "movie:up-2009", "d": "tv"}, token=token)
    assert last["data"]["startPlayback"]["resumeFromSeconds"] == 0


async def test_short_and_finished_viewings_do_not_resume(
    clients: dict[str, GraphQLClient], devices: KnownDevices, new_user: dict[str, Any]
) -> None:
    playback, token = NamedDevices(clients, devices), new_user["token"]
    await _play(playback, token, "movie:up-2009", 20)
    await _play(playback, token, "movie:coco-2017", 5900)
    for content in ("movie:up-2009", "movie:coco-2017"):
        body = await playback(START, {"c": content, "d": "tv"}, token=token)
        assert body["data"]["startPlayback"]["resumeFromSeconds"] == 0, content


async def test_continue_watching_and_history(
    clients: dict[str, GraphQLClient], devices: KnownDevices, new_user: dict[str, Any]
) -> None:
    playback, token, user_id = NamedDevices(clients, devices), new_user["token"], new_user["id"]
    for content, position in (
        ("movie:jaws-1975", 600),
        ("movie:rocky-1976", 900),
        ("movie:big-1988", 5950),
    ):
        await playback(END, {"s": await _play(playback, token, content, position)}, token=token)
    query = entity_query(
        """... on User { continueWatching(first: 10) { content { id } positionSeconds progress }
           watchHistory(first: 2) { totalCount pageInfo { hasNextPage endCursor }
             edges { node { content { id } completed } } } }"""
    )
    body = await playback(query, {"r": [{"__typename": "User", "id": user_id}]}, token=token)
    user = body["data"]["_entities"][0]
    assert [r["content"]["id"] for r in user["continueWatching"]] == [
        "movie:rocky-1976",
        "movie:jaws-1975",
    ]
    assert user["continueWatching"][0]["progress"] == 0.15
    history = user["watchHistory"]
    assert history["totalCount"] == 3 and history["pageInfo"]["hasNextPage"]
    assert history["edges"][0]["node"] == {"content": {"id": "movie:big-1988"}, "completed": True}
    rest = await playback(
        entity_query(
            "... on User { watchHistory(first: 5, after: $after) {"
            " edges { node { content { id } } } } }"
        ).replace("query($r: [_Any!]!)", "query($r: [_Any!]!, $after: String)"),
        {"r": [{"__typename": "User", "id": user_id}], "after": history["pageInfo"]["endCursor"]},
        token=token,
    )
    assert [
        e["node"]["content"]["id"] for e in rest["data"]["_entities"][0]["watchHistory"]["edges"]
    ] == ["movie:jaws-1975"]


async def test_demo_account_has_continue_watching_rows(
    clients: dict[str, GraphQLClient], demo_token: str
) -> None:
    body = await clients["playback"](
        entity_query("... on User { continueWatching { content { id } positionSeconds } }"),
        {"r": [{"__typename": "User", "id": DEMO_USER_ID}]},
        token=demo_token,
    )
    assert len(body["data"]["_entities"][0]["continueWatching"]) >= 3


async def test_only_the_owner_sees_progress(
    clients: dict[str, GraphQLClient], new_user: dict[str, Any], demo_token: str
) -> None:
    query = entity_query("... on User { continueWatching { positionSeconds } }")
    others = await clients["playback"](
        query, {"r": [{"__typename": "User", "id": DEMO_USER_ID}]}, token=new_user["token"]
    )
    assert error_codes(others) == ["FORBIDDEN"]
    anonymous = await clients["playback"](
        query, {"r": [{"__typename": "User", "id": DEMO_USER_ID}]}
    )
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    no_token = await clients["playback"](START, {"c": "movie:heat-1995", "d": "tv"})
    assert error_codes(no_token) == ["UNAUTHENTICATED"]


async def test_events_are_written_to_the_outbox_with_the_change(
    runtime: Runtime,
    clients: dict[str, GraphQLClient],
    devices: KnownDevices,
    new_user: dict[str, Any],
) -> None:
    playback, token = NamedDevices(clients, devices), new_user["token"]
    session_id = await _play(playback, token, "movie:seven-samurai-1954", 700)
    await playback(END, {"s": session_id}, token=token)
    async with runtime.database.session() as session:
        rows = (
            await session.exec(
                select(OutboxEventRecord)
                .where(OutboxEventRecord.key == new_user["id"])
                .order_by(col(OutboxEventRecord.id))
            )
        ).all()
    assert [r.payload["type"] for r in rows] == ["started", "progress", "ended"]
    assert rows[-1].payload["sessionId"] == session_id
    assert rows[-1].payload["contentId"] == "movie:seven-samurai-1954"


async def test_viewer_progress_on_content_is_batched(
    clients: dict[str, GraphQLClient], demo_token: str
) -> None:
    body = await clients["playback"](
        entity_query("... on Content { id viewerProgress { positionSeconds completed } }"),
        {
            "r": [
                {"__typename": "Content", "id": i}
                for i in ("movie:parasite-2019", "movie:inception-2010", "movie:nope")
            ]
        },
        token=demo_token,
    )
    entities = body["data"]["_entities"]
    assert entities[0]["viewerProgress"]["positionSeconds"] == 58 * 60
    assert entities[1]["viewerProgress"]["completed"] is True
    assert entities[2]["viewerProgress"] is None


async def test_published_outbox_rows_are_pruned_after_a_day(
    runtime: Runtime,
    clients: dict[str, GraphQLClient],
    devices: KnownDevices,
    new_user: dict[str, Any],
) -> None:
    from datetime import timedelta

    from sqlmodel import update

    from media_gateway.storage.outbox import OUTBOX_RETENTION, prune_published
    from media_gateway.storage.types import utcnow

    playback, token = NamedDevices(clients, devices), new_user["token"]
    await _play(playback, token, "movie:heat-1995", 700)  # "started" and "progress"
    database = runtime.database
    mine = OutboxEventRecord.key == new_user["id"]

    async def types() -> list[str]:
        async with database.session() as session:
            rows = await session.exec(
                select(OutboxEventRecord).where(mine).order_by(col(OutboxEventRecord.id))
            )
            return [row.payload["type"] for row in rows.all()]

    long_ago = utcnow() - OUTBOX_RETENTION - timedelta(minutes=1)
    async with database.transaction() as session:  # "started" was published long ago
        await session.exec(
            update(OutboxEventRecord)
            .where(mine, col(OutboxEventRecord.payload)["type"].as_string() == "started")
            .values(published_at=long_ago)
        )
    await prune_published(database, OutboxEventRecord)
    assert await types() == ["progress"]  # published within the day, or not yet: kept
