"""Real-time events for one user's devices: durable log, live fan-out, catch-up streams.

Writers record an event in the same transaction as the change it describes (so an event
exists if and only if the change does) and publish it once the transaction has committed.
Subscribers get a stream that first replays what they missed since a cursor (the sequence
number of the last event they saw, within each event's time to live) and then follows the
live channel; an event is never delivered after it expired.

Sequence numbers count each user's events in commit order, with no gaps: the transaction's
commit takes the next numbers from the user's row in ``realtime_cursors`` (an upsert that
locks that row until the commit), so a writer of the same user waits for it and numbers
after it. A reader that has seen number N has therefore seen every number below N, and
resuming after N loses nothing. (An autoincrement id would not do: two transactions can
commit in the other order than they took their ids, and a reader could then see id 11
and move past id 10 before it is committed.) Numbers are taken at commit, after the
writer's own changes have been flushed, so the counter row is the last lock a writer
takes (no deadlock with the rows it changed), held only for the commit; writers of
different users never wait for each other's counter. (SQLite has one writer at a time
anyway.)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.realtime.broker import Broker, Message
from media_gateway.realtime.hlc import HybridLogicalClock
from media_gateway.realtime.models import RealtimeCursorRecord, RealtimeEventRecord
from media_gateway.storage.database import Database, insert_on_conflict
from media_gateway.storage.types import as_utc, utcnow

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 24 * 3600
REPLAY_LIMIT = 500


def user_channel(user_id: str) -> str:
    return f"user:{user_id}"


class InvalidCursor(ValueError):
    pass


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    try:
        value = int(cursor)
    except ValueError as exc:
        raise InvalidCursor("Invalid cursor.") from exc
    if value < 0:
        raise InvalidCursor("Invalid cursor.")
    return value


@dataclass
class PendingEvents:
    """Events recorded in a transaction, published once it has committed."""

    records: list[RealtimeEventRecord] = field(default_factory=list)


# ------------------------------------------------------------------ sequence numbers
_UNSEQUENCED = "media_gateway.realtime.unsequenced"
_EVENTS: sa.Table = RealtimeEventRecord.__table__  # type: ignore[attr-defined]


@cache
def _take_numbers(dialect: str) -> Executable:
    """``INSERT INTO realtime_cursors VALUES (:user_id, :count) ON CONFLICT (user_id) DO
    UPDATE SET last_seq = realtime_cursors.last_seq + excluded.last_seq RETURNING last_seq``:
    takes ``count`` numbers, returns the last."""
    table: sa.Table = RealtimeCursorRecord.__table__  # type: ignore[attr-defined]
    statement = insert_on_conflict(dialect, table).values(
        user_id=sa.bindparam("user_id"), last_seq=sa.bindparam("count")
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.user_id],
        set_={"last_seq": table.c.last_seq + statement.excluded.last_seq},
    ).returning(table.c.last_seq)


def _unsequenced(session: AsyncSession) -> list[RealtimeEventRecord]:
    """The events recorded in this session's transaction, numbered and inserted at commit."""
    queue: list[RealtimeEventRecord] = session.sync_session.info.setdefault(_UNSEQUENCED, [])
    return queue


def _number_and_insert(session: Session) -> None:
    """Within the commit: number the transaction's events and insert them, last."""
    queue: list[RealtimeEventRecord] = session.info.get(_UNSEQUENCED, [])
    if not queue:
        return
    records = list(queue)
    queue.clear()
    session.flush()  # the writer's own changes (and their locks) come before the counter's
    connection = session.connection()
    statement = _take_numbers(connection.dialect.name)
    by_user: dict[str, list[RealtimeEventRecord]] = {}
    for record in records:
        by_user.setdefault(record.user_id, []).append(record)
    for user_id in sorted(by_user):  # one lock order for every writer of several users
        events = by_user[user_id]
        last = int(
            connection.execute(statement, {"user_id": user_id, "count": len(events)}).scalar_one()
        )
        for number, record in enumerate(events, start=last - len(events) + 1):
            record.seq = number
    # a Core insert: the records are what gets published, they need no ORM identity
    connection.execute(_EVENTS.insert(), [record.model_dump(exclude={"id"}) for record in records])


def _forget(session: Session) -> None:
    queue: list[RealtimeEventRecord] | None = session.info.get(_UNSEQUENCED)
    if queue:
        queue.clear()


# Listened to once for every session (those that recorded no event return at once), not
# per session: attaching listeners to each writing session was a measurable share of a
# progress report's time.
sa.event.listen(Session, "before_commit", _number_and_insert)
sa.event.listen(Session, "after_rollback", _forget)


def to_message(record: RealtimeEventRecord) -> Message:
    return {
        "id": record.seq,  # the cursor
        "kind": record.kind,
        "userId": record.user_id,
        "deviceId": record.device_id,
        "hlc": record.hlc,
        "payload": record.payload,
        "createdAt": as_utc(record.created_at).timestamp(),
        "expiresAt": as_utc(record.expires_at).timestamp(),
    }


def is_expired(message: Message, now: float | None = None) -> bool:
    expires = message.get("expiresAt")
    if not isinstance(expires, int | float):
        return False
    return expires <= (now if now is not None else utcnow().timestamp())


Publisher = Callable[[str, Message], Any]


class Realtime:
    """The event log, the broker and the clock shared by the subgraphs of one process."""

    def __init__(
        self,
        database: Database,
        broker: Broker,
        *,
        clock: HybridLogicalClock | None = None,
        bridges: Iterable[Publisher] = (),
    ) -> None:
        self.database = database
        self.broker = broker
        self.clock = clock or HybridLogicalClock()
        self.bridges = list(bridges)
        self._users = 0

    def retain(self) -> None:
        """A subgraph started using it."""
        self._users += 1

    async def release(self) -> None:
        """A subgraph stopped using it; the last one closes the broker and the bridges."""
        self._users -= 1
        if self._users <= 0:
            self._users = 0
            await self.broker.close()
            for bridge in self.bridges:
                close = getattr(bridge, "close", None)
                if close is not None:
                    await close()

    # ------------------------------------------------------------------ writing
    async def record(
        self,
        session: AsyncSession,
        pending: PendingEvents,
        *,
        user_id: str,
        kind: str,
        payload: dict[str, Any],
        device_id: str | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        hlc: str | None = None,
        now: datetime | None = None,
    ) -> RealtimeEventRecord:
        """Add an event to the session's transaction (and to ``pending``, to publish after
        the commit). Its ``seq`` is assigned, and the row inserted, when the transaction
        commits; a rollback drops it."""
        now = now or utcnow()
        record = RealtimeEventRecord(
            user_id=user_id,
            kind=kind,
            device_id=device_id,
            hlc=hlc or str(self.clock.tick()),
            payload=payload,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
        _unsequenced(session).append(record)
        pending.records.append(record)
        return record

    async def publish(self, pending: PendingEvents) -> None:
        for record in pending.records:
            message = to_message(record)
            channel = user_channel(record.user_id)
            try:
                await self.broker.publish(channel, message)
            except Exception as exc:  # the log still has it: catch-up delivers it later
                log.warning("live publish failed: %s", exc.__class__.__name__)
            for bridge in self.bridges:
                try:
                    await bridge(channel, message)
                except Exception as exc:
                    log.warning("bridge publish failed: %s", exc.__class__.__name__)
        pending.records.clear()

    async def emit(
        self,
        *,
        user_id: str,
        kind: str,
        payload: dict[str, Any],
        device_id: str | None = None,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
    ) -> RealtimeEventRecord:
        """Record and publish one event in its own transaction."""
        pending = PendingEvents()
        async with self.database.transaction() as session:
            record = await self.record(
                session,
                pending,
                user_id=user_id,
                kind=kind,
                payload=payload,
                device_id=device_id,
                ttl_seconds=ttl_seconds,
            )
        await self.publish(pending)
        return record

    # ------------------------------------------------------------------ reading
    async def replay(
        self, user_id: str, kinds: Collection[str], after: int, limit: int = REPLAY_LIMIT
    ) -> list[Message]:
        now = utcnow()
        async with self.database.session() as session:
            result = await session.exec(
                select(RealtimeEventRecord)
                .where(
                    RealtimeEventRecord.user_id == user_id,
                    col(RealtimeEventRecord.kind).in_(list(kinds)),
                    col(RealtimeEventRecord.seq) > after,
                    col(RealtimeEventRecord.expires_at) > now,
                )
                .order_by(col(RealtimeEventRecord.seq))
                .limit(limit)
            )
            return [to_message(r) for r in result.all()]

    async def latest_cursor(self, user_id: str) -> int:
        """The number of the user's last committed event (0 before the first one)."""
        async with self.database.session() as session:
            result = await session.exec(
                select(RealtimeCursorRecord.last_seq).where(RealtimeCursorRecord.user_id == user_id)
            )
            value = result.first()
            return int(value or 0)

    async def stream(
        self,
        user_id: str,
        kinds: Collection[str],
        since: int | None,
        accept: Callable[[Message], bool] = lambda _m: True,
    ) -> AsyncIterator[Message]:
        """Replay after ``since`` (when given), then follow live; never an expired event."""
        async with self.broker.subscribe(user_channel(user_id)) as live:
            last = 0
            if since is not None:
                last = since
                while True:
                    batch = await self.replay(user_id, kinds, last)
                    for message in batch:
                        last = max(last, int(message["id"]))
                        if accept(message):
                            yield message
                    if len(batch) < REPLAY_LIMIT:
                        break
            seen_recent: set[int] = set()
            async for message in live:
                if message.get("kind") not in kinds or is_expired(message):
                    continue
                ident = message.get("id")
                if isinstance(ident, int):
                    already_replayed = since is not None and ident <= last
                    if already_replayed or ident in seen_recent:
                        continue
                    seen_recent.add(ident)
                    if len(seen_recent) > 4096:
                        seen_recent.clear()
                if accept(message):
                    yield message

    async def prune(self) -> int:
        """Delete expired events; returns how many."""
        async with self.database.transaction() as session:
            result = await session.exec(
                delete(RealtimeEventRecord).where(col(RealtimeEventRecord.expires_at) <= utcnow())
            )
            return int(result.rowcount or 0)
