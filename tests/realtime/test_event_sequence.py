"""The catch-up cursor: each user's events numbered in commit order, on SQLite and PostgreSQL.

A reader that has seen event N of a user must never miss an event numbered below N, so no
number may become visible while a smaller one of the same user is still uncommitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import DateTime, Update, bindparam, column, event, table, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util import await_only

from media_gateway.platform.settings import Settings
from media_gateway.realtime import InProcessBroker, PendingEvents, Realtime
from media_gateway.realtime.broker import Message
from media_gateway.storage.database import Database
from media_gateway.storage.migrate import upgrade

try:  # the test folders are packages; their parent may or may not be one
    from tests.storage.backends import BACKENDS, make_settings, postgres_schema
except ImportError:  # pragma: no cover
    from storage.backends import (  # type: ignore[no-redef,unused-ignore]
        BACKENDS,
        make_settings,
        postgres_schema,
    )

KINDS = ("progress", "command")
WAIT = 5.0  # seconds: far more than any of these writes takes when it does not wait
BLOCKED = 0.5  # seconds a writer that must wait is watched for


@dataclass
class Backend:
    name: str
    settings: Settings

    def database(self) -> Database:
        return Database(self.settings.database_url, schema=self.settings.database_schema)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgres":
        with postgres_schema("mg_realtime_seq") as schema:
            yield Backend("postgres", make_settings(tmp_path, "postgres", schema))
    else:
        yield Backend("sqlite", make_settings(tmp_path, "sqlite"))


@contextlib.asynccontextmanager
async def opened(backend: Backend, *, migrate: bool = True) -> AsyncIterator[Realtime]:
    """A ``Realtime`` on its own engine: one per writer, as if each were another process."""
    database = backend.database()
    try:
        if migrate:
            await database.migrate()
        yield Realtime(database, InProcessBroker())
    finally:
        await database.dispose()


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


async def write(realtime: Realtime, user_id: str, label: str, kind: str = "progress") -> int:
    """One event in its own transaction; its number."""
    record = await realtime.emit(user_id=user_id, kind=kind, payload={"label": label})
    assert record.seq is not None
    return record.seq


async def add_member(connection: AsyncConnection, user_id: str) -> None:
    await connection.execute(
        text(
            "INSERT INTO identity_users (id, email, display_name, password_hash, created_at) "
            "VALUES (:id, :email, 'Member', 'not a hash', :now)"
        ).bindparams(bindparam("now", datetime.now(UTC), type_=DateTime(timezone=True))),
        {"id": user_id, "email": f"{user_id}@example.com"},
    )


def labels(messages: list[Message]) -> list[str]:
    return [m["payload"]["label"] for m in messages]


async def test_each_user_has_their_own_numbers(backend: Backend) -> None:
    alice, bob = new_user(), new_user()
    async with opened(backend) as realtime:
        assert await realtime.latest_cursor(alice) == 0
        assert [await write(realtime, alice, "a1"), await write(realtime, bob, "b1")] == [1, 1]
        assert await write(realtime, alice, "a2") == 2
        # several events of several users in one transaction: numbered in recording order
        pending = PendingEvents()
        async with realtime.database.transaction() as session:
            for user_id, label in ((bob, "b2"), (alice, "a3"), (bob, "b3"), (alice, "a4")):
                await realtime.record(
                    session, pending, user_id=user_id, kind="progress", payload={"label": label}
                )
        assert [(r.user_id, r.seq) for r in pending.records] == [
            (bob, 2),
            (alice, 3),
            (bob, 3),
            (alice, 4),
        ]
        # a transaction that rolls back takes no number: there is never a gap
        with pytest.raises(RuntimeError):
            async with realtime.database.transaction() as session:
                await realtime.record(
                    session, PendingEvents(), user_id=alice, kind="progress", payload={}
                )
                raise RuntimeError("the change failed")
        assert await write(realtime, alice, "a5") == 5
        assert await realtime.latest_cursor(alice) == 5
        assert await realtime.latest_cursor(bob) == 3
        replayed = await realtime.replay(alice, KINDS, 0)
        assert [m["id"] for m in replayed] == [1, 2, 3, 4, 5]
        assert labels(replayed) == ["a1", "a2", "a3", "a4", "a5"]
        assert labels(await realtime.replay(bob, KINDS, 1)) == ["b2", "b3"]


async def test_a_stream_since_a_cursor_replays_exactly_what_came_after_it(
    backend: Backend,
) -> None:
    alice, bob = new_user(), new_user()
    async with opened(backend) as realtime:
        cursors = {}
        for label, kind in (
            ("a1", "progress"),
            ("a2", "command"),
            ("a3", "presence"),  # a kind this stream does not follow
            ("a4", "command"),
            ("a5", "progress"),
        ):
            cursors[label] = await write(realtime, alice, label, kind)
            await write(realtime, bob, f"not for alice after {label}")
        stream = cast(AsyncGenerator[Message, None], realtime.stream(alice, KINDS, cursors["a2"]))
        try:
            replayed = [await asyncio.wait_for(anext(stream), WAIT) for _ in range(2)]
            assert labels(replayed) == ["a4", "a5"]
            assert [m["id"] for m in replayed] == [cursors["a4"], cursors["a5"]]
            # then live: the next event, once its transaction has committed
            following = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(0.1)
            assert not following.done()
            live = await write(realtime, alice, "a6")
            message = await asyncio.wait_for(following, WAIT)
            assert (message["id"], message["payload"]["label"]) == (live, "a6")
        finally:
            await stream.aclose()


async def test_a_writer_that_records_first_and_commits_last_numbers_last(
    backend: Backend,
) -> None:
    """The race an autoincrement id loses: the first to record is the last to commit."""
    alice = new_user()
    async with opened(backend) as first, opened(backend) as second:
        slow = first.database.sessions()
        try:
            await slow.begin()
            await first.record(
                slow, PendingEvents(), user_id=alice, kind="progress", payload={"label": "slow"}
            )
            # another writer records and commits while the first one is still open
            await asyncio.wait_for(write(second, alice, "fast"), WAIT)
            seen = await second.replay(alice, KINDS, 0)
            assert labels(seen) == ["fast"]
            cursor = int(seen[-1]["id"])
            await slow.commit()
        finally:
            await slow.close()
        # resuming after the last event seen delivers the one committed since
        assert labels(await second.replay(alice, KINDS, cursor)) == ["slow"]
        assert [m["id"] for m in await second.replay(alice, KINDS, 0)] == [1, 2]


async def test_writers_that_lock_the_same_row_do_not_deadlock_on_the_counter(
    backend: Backend,
) -> None:
    """The counter is locked at commit, after the writer's own rows: a writer that records
    an event and then waits for a row held by a second writer of the same user is not
    holding the counter that second writer needs to commit."""
    alice = new_user()
    members = table("identity_users", column("id"), column("display_name"))

    def rename(name: str) -> Update:
        return update(members).where(members.c.id == alice).values(display_name=name)

    async with opened(backend) as first, opened(backend) as second:
        async with first.database.engine.begin() as connection:
            await add_member(connection, alice)
        one, two = first.database.sessions(), second.database.sessions()
        waiting: asyncio.Future[Any] | None = None
        try:
            await one.begin()
            await first.record(
                one, PendingEvents(), user_id=alice, kind="progress", payload={"label": "one"}
            )
            await two.begin()
            await two.exec(rename("two"))
            await asyncio.wait_for(
                second.record(
                    two, PendingEvents(), user_id=alice, kind="progress", payload={"label": "two"}
                ),
                WAIT,
            )
            waiting = asyncio.ensure_future(one.exec(rename("one")))
            done, _ = await asyncio.wait({waiting}, timeout=BLOCKED)
            assert not done  # the row is the second writer's until it commits
            await asyncio.wait_for(two.commit(), WAIT)
            await asyncio.wait_for(waiting, WAIT)
            await asyncio.wait_for(one.commit(), WAIT)
        finally:
            if waiting is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(waiting, WAIT)
            await one.close()
            await two.close()
        replayed = await second.replay(alice, KINDS, 0)
        assert [(m["id"], m["payload"]["label"]) for m in replayed] == [(1, "two"), (2, "one")]


async def test_no_number_is_visible_while_a_smaller_one_is_uncommitted(backend: Backend) -> None:
    """A writer that has taken its number holds the user's counter until it commits: a
    second writer of that user waits for it, so number 2 cannot commit before number 1."""
    alice, bob = new_user(), new_user()
    async with (
        opened(backend) as first,
        opened(backend) as second,
        opened(backend) as reader,
    ):
        numbered, resume = asyncio.Event(), asyncio.Event()
        slow = first.database.sessions()
        pending = PendingEvents()

        def hold_the_commit(session: Any) -> None:
            # runs within the commit, after the event took its number, before COMMIT
            numbered.set()
            await_only(resume.wait())

        committing: asyncio.Future[None] | None = None
        other: asyncio.Future[int] | None = None
        try:
            await slow.begin()
            await first.record(
                slow, pending, user_id=alice, kind="progress", payload={"label": "first"}
            )
            event.listen(slow.sync_session, "before_commit", hold_the_commit)
            committing = asyncio.ensure_future(slow.commit())
            await asyncio.wait_for(numbered.wait(), WAIT)

            other = asyncio.ensure_future(write(second, alice, "second"))
            done, _ = await asyncio.wait({other}, timeout=BLOCKED)
            assert not done, "a second writer of the same user committed before the first"
            if backend.name == "postgres":  # (SQLite has one writer at a time, whoever for)
                assert await asyncio.wait_for(write(second, bob, "elsewhere"), WAIT) == 1
            # nothing of the user's is visible yet: neither number has committed
            assert await reader.replay(alice, KINDS, 0) == []
            assert await reader.latest_cursor(alice) == 0

            resume.set()
            await asyncio.wait_for(committing, WAIT)
            assert [r.seq for r in pending.records] == [1]
            assert await asyncio.wait_for(other, WAIT) == 2
        finally:
            resume.set()
            for task in (committing, other):
                if task is not None:
                    with contextlib.suppress(BaseException):
                        await asyncio.wait_for(task, WAIT)
            await slow.close()
        replayed = await reader.replay(alice, KINDS, 0)
        assert [(m["id"], m["payload"]["label"]) for m in replayed] == [(1, "first"), (2, "second")]
        assert await reader.latest_cursor(alice) == 2


async def test_the_migration_keeps_every_cursor_handed_out_before_it(backend: Backend) -> None:
    """Events logged before the per-user numbers keep their id as their number; every
    member's numbers go on above the highest id handed out (a cursor may be the id of an
    event pruned since)."""
    alice, bob, carol = new_user(), new_user(), new_user()
    async with opened(backend, migrate=False) as realtime:
        engine = realtime.database.engine
        await upgrade(engine, "0005_playback_sync")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        insert_event = text(
            "INSERT INTO realtime_events "
            "(user_id, kind, device_id, hlc, payload, created_at, expires_at) "
            "VALUES (:user_id, :kind, NULL, '0', '{}', :now, :later)"
        ).bindparams(
            bindparam("now", now, type_=DateTime(timezone=True)),
            bindparam("later", now + timedelta(days=36500), type_=DateTime(timezone=True)),
        )
        async with engine.begin() as connection:
            for user_id, kind in (
                (alice, "progress"),
                (bob, "progress"),
                (alice, "command"),
                (bob, "command"),  # pruned before the migration
            ):
                await connection.execute(insert_event, {"user_id": user_id, "kind": kind})
            await add_member(connection, carol)
            ids = {
                row.kind + row.user_id: row.id
                for row in await connection.execute(
                    text("SELECT id, user_id, kind FROM realtime_events")
                )
            }
            pruned = ids.pop("command" + bob)
            await connection.execute(
                text("DELETE FROM realtime_events WHERE id = :id"), {"id": pruned}
            )
        # PostgreSQL's id sequence remembers the pruned id; SQLite would hand it out again
        highest = pruned if backend.name == "postgres" else max(ids.values())
        await upgrade(engine)

        replayed = await realtime.replay(alice, KINDS, 0)
        assert [m["id"] for m in replayed] == [ids["progress" + alice], ids["command" + alice]]
        for user_id in (alice, bob, carol):
            assert await realtime.latest_cursor(user_id) == highest
        assert await write(realtime, alice, "after") == highest + 1
        assert await write(realtime, carol, "after") == highest + 1
        after = await realtime.replay(alice, KINDS, ids["command" + alice])
        assert labels(after) == ["after"]
