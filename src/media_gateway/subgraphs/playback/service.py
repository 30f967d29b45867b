"""Playback sessions, resume points, continue-watching and history, with an event outbox.

Progress and history belong to the viewing profile that played (``profile_id``; see
``media_gateway.profiles``): a session remembers the profile that started it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.expression import Executable
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.profiles import DEFAULT_PROFILE
from media_gateway.realtime import PendingEvents, Realtime
from media_gateway.storage.database import Database, insert_on_conflict
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.events import Event, EventBus
from media_gateway.subgraphs.playback.models import (
    OutboxEventRecord,
    PlaybackSessionRecord,
    ProgressRecord,
    WatchEventRecord,
)

log = logging.getLogger(__name__)

PLAYBACK_TOPIC = "playback.events"
MIN_RESUME_SECONDS = 30
COMPLETION_RATIO = 0.95
STATES = ("PLAYING", "PAUSED", "BUFFERING", "ENDED")
# the kind of real-time event the ``playbackProgress`` subscription follows
KIND_PROGRESS = "progress"
PROGRESS_TTL_SECONDS = 24 * 3600


class PlaybackError(Exception):
    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.code = code


class EventSink(Protocol):
    async def publish(self, event: Event) -> None: ...


def resume_point(position: int, duration: int | None, completed: bool) -> int:
    """Where to resume: nowhere under 30 s watched, nor once 95% or more was watched."""
    if completed or position < MIN_RESUME_SECONDS:
        return 0
    if duration and position >= COMPLETION_RATIO * duration:
        return 0
    return position


def is_complete(position: int, duration: int | None) -> bool:
    return bool(duration) and position >= COMPLETION_RATIO * (duration or 0)


@dataclass(frozen=True)
class HistoryPage:
    items: list[WatchEventRecord]
    total_count: int
    offset: int


_SESSIONS: sa.Table = PlaybackSessionRecord.__table__  # type: ignore[attr-defined]
_PROGRESS: sa.Table = ProgressRecord.__table__  # type: ignore[attr-defined]
_OUTBOX: sa.Table = OutboxEventRecord.__table__  # type: ignore[attr-defined]


async def _write_outbox(
    session: AsyncSession, kind: str, record: PlaybackSessionRecord, **extra: Any
) -> None:
    """The playback event for Kafka, in the change's transaction."""
    now = utcnow()
    payload: dict[str, Any] = {
        "type": kind,
        "sessionId": record.id,
        "userId": record.user_id,
        "profileId": record.profile_id,
        "contentId": record.content_id,
        "deviceId": record.device_id,
        "positionSeconds": record.position_seconds,
        "durationSeconds": record.duration_seconds,
        "state": record.state,
        "occurredAt": now.isoformat(),
        **extra,
    }
    connection = await session.connection()
    await connection.execute(
        _OUTBOX.insert(),
        {"topic": PLAYBACK_TOPIC, "key": record.user_id, "payload": payload, "created_at": now},
    )


# Progress reports are the hottest write of the platform (every playing device, every few
# seconds): the session moves with one UPDATE ... RETURNING and the resume point with one
# upsert, not through the ORM's load-then-flush.
_ADVANCE = (
    sa.update(_SESSIONS)
    .where(
        _SESSIONS.c.id == sa.bindparam("session_id"),
        _SESSIONS.c.user_id == sa.bindparam("viewer"),
        _SESSIONS.c.ended_at.is_(None),
    )
    .values(
        # never past the end of the title
        position_seconds=sa.case(
            (
                sa.and_(
                    _SESSIONS.c.duration_seconds > 0,
                    sa.bindparam("position") > _SESSIONS.c.duration_seconds,
                ),
                _SESSIONS.c.duration_seconds,
            ),
            else_=sa.bindparam("position"),
        ),
        state=sa.bindparam("new_state"),
        updated_at=sa.bindparam("now"),
    )
    .returning(*_SESSIONS.c)
)


@cache
def _save_progress_statement(dialect: str) -> Executable:
    """Upsert a profile's resume point in a title from a session's position; the duration
    already known is kept when the session has none. Returns ``completed``."""
    statement = insert_on_conflict(dialect, _PROGRESS)
    excluded = statement.excluded
    duration = sa.func.coalesce(excluded.duration_seconds, _PROGRESS.c.duration_seconds)
    completed = sa.case(
        (
            sa.and_(duration > 0, excluded.position_seconds >= COMPLETION_RATIO * duration),
            sa.true(),
        ),
        else_=sa.false(),
    )
    return statement.on_conflict_do_update(
        index_elements=[_PROGRESS.c.user_id, _PROGRESS.c.profile_id, _PROGRESS.c.content_id],
        set_={
            "position_seconds": excluded.position_seconds,
            "duration_seconds": duration,
            "completed": completed,
            "updated_at": excluded.updated_at,
        },
    ).returning(_PROGRESS.c.completed)


def _progress_payload(session: PlaybackSessionRecord) -> dict[str, Any]:
    return {
        "profileId": session.profile_id,
        "contentId": session.content_id,
        "deviceId": session.device_id,
        "sessionId": session.id,
        "positionSeconds": session.position_seconds,
        "durationSeconds": session.duration_seconds,
        "state": session.state,
    }


class PlaybackService:
    def __init__(self, database: Database, realtime: Realtime | None = None) -> None:
        self.database = database
        self.realtime = realtime

    async def _record_progress(
        self, session: AsyncSession, pending: PendingEvents, record: PlaybackSessionRecord
    ) -> None:
        """A progress event for the user's other devices, in the change's transaction."""
        if self.realtime is None:
            return
        await self.realtime.record(
            session,
            pending,
            user_id=record.user_id,
            kind=KIND_PROGRESS,
            device_id=record.device_id,
            ttl_seconds=PROGRESS_TTL_SECONDS,
            payload=_progress_payload(record),
        )

    async def _publish(self, pending: PendingEvents) -> None:
        if self.realtime is not None:
            await self.realtime.publish(pending)

    async def start(
        self,
        user_id: str,
        content_id: str,
        device_id: str,
        duration_seconds: int | None,
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> PlaybackSessionRecord:
        """A session of the profile's, resuming where that profile left the title."""
        if duration_seconds is not None and duration_seconds <= 0:
            raise PlaybackError("`durationSeconds` must be positive.")
        pending = PendingEvents()
        async with self.database.transaction() as session:
            progress = await session.get(ProgressRecord, (user_id, profile_id, content_id))
            resume = 0
            if progress is not None:
                duration_seconds = duration_seconds or progress.duration_seconds
                resume = resume_point(
                    progress.position_seconds, duration_seconds, progress.completed
                )
            record = PlaybackSessionRecord(
                user_id=user_id,
                profile_id=profile_id,
                content_id=content_id,
                device_id=device_id,
                duration_seconds=duration_seconds,
                position_seconds=resume,
                resume_from_seconds=resume,
            )
            session.add(record)
            await session.flush()
            await _write_outbox(session, "started", record)
            await self._record_progress(session, pending, record)
        await self._publish(pending)
        return record

    async def _owned_session(
        self, session: AsyncSession, user_id: str, session_id: str
    ) -> PlaybackSessionRecord:
        record = await session.get(PlaybackSessionRecord, session_id)
        if record is None or record.user_id != user_id:
            raise PlaybackError("No such playback session.", "NOT_FOUND")
        return record

    async def update(
        self, user_id: str, session_id: str, position_seconds: int, state: str
    ) -> PlaybackSessionRecord:
        if position_seconds < 0:
            raise PlaybackError("`positionSeconds` must not be negative.")
        if state not in STATES:
            raise PlaybackError(f"Unknown state {state!r}.")
        now = utcnow()
        pending = PendingEvents()
        async with self.database.transaction() as session:
            connection = await session.connection()
            row = (
                await connection.execute(
                    _ADVANCE,
                    {
                        "session_id": session_id,
                        "viewer": user_id,
                        "position": position_seconds,
                        "new_state": state,
                        "now": now,
                    },
                )
            ).first()
            if row is None:  # NOT_FOUND unless it is the caller's; then it has ended
                await self._owned_session(session, user_id, session_id)
                raise PlaybackError("This playback session has ended.", "SESSION_ENDED")
            record = PlaybackSessionRecord(**row._mapping)
            await self._save_progress(session, record, now)
            await _write_outbox(session, "progress", record)
            await self._record_progress(session, pending, record)
        await self._publish(pending)
        return record

    async def end(self, user_id: str, session_id: str) -> PlaybackSessionRecord:
        now = utcnow()
        pending = PendingEvents()
        async with self.database.transaction() as session:
            record = await self._owned_session(session, user_id, session_id)
            if record.ended_at is not None:
                return record
            record.state = "ENDED"
            record.ended_at = now
            record.updated_at = now
            session.add(record)
            completed = await self._save_progress(session, record, now)
            session.add(
                WatchEventRecord(
                    user_id=user_id,
                    profile_id=record.profile_id,
                    content_id=record.content_id,
                    watched_at=now,
                    position_seconds=record.position_seconds,
                    duration_seconds=record.duration_seconds,
                    completed=completed,
                )
            )
            await _write_outbox(session, "ended", record, completed=completed)
            await self._record_progress(session, pending, record)
        await self._publish(pending)
        return record

    @staticmethod
    async def _save_progress(
        session: AsyncSession, record: PlaybackSessionRecord, now: datetime
    ) -> bool:
        """Move the resume point of the session's profile in the title to the session's;
        whether the title now counts as watched to the end."""
        connection = await session.connection()
        statement = _save_progress_statement(connection.dialect.name)
        result = await connection.execute(
            statement,
            {
                "user_id": record.user_id,
                "profile_id": record.profile_id,
                "content_id": record.content_id,
                "position_seconds": record.position_seconds,
                "duration_seconds": record.duration_seconds,
                "completed": is_complete(record.position_seconds, record.duration_seconds),
                "updated_at": now,
            },
        )
        return bool(result.scalar_one())

    async def continue_watching(
        self, user_id: str, first: int, *, profile_id: str = DEFAULT_PROFILE
    ) -> list[ProgressRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ProgressRecord)
                .where(
                    ProgressRecord.user_id == user_id,
                    ProgressRecord.profile_id == profile_id,
                    col(ProgressRecord.completed).is_(False),
                    col(ProgressRecord.position_seconds) >= MIN_RESUME_SECONDS,
                )
                .order_by(col(ProgressRecord.updated_at).desc())
                .limit(first)
            )
            return list(result.all())

    async def history(
        self, user_id: str, first: int, offset: int, *, profile_id: str = DEFAULT_PROFILE
    ) -> HistoryPage:
        mine = (WatchEventRecord.user_id == user_id, WatchEventRecord.profile_id == profile_id)
        async with self.database.session() as session:
            total = (
                await session.exec(select(func.count()).select_from(WatchEventRecord).where(*mine))
            ).one()
            result = await session.exec(
                select(WatchEventRecord)
                .where(*mine)
                .order_by(col(WatchEventRecord.watched_at).desc(), col(WatchEventRecord.id).desc())
                .offset(offset)
                .limit(first)
            )
            return HistoryPage(list(result.all()), int(total), offset)

    async def progress_for(
        self, user_id: str, content_ids: Sequence[str], *, profile_id: str = DEFAULT_PROFILE
    ) -> list[ProgressRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ProgressRecord).where(
                    ProgressRecord.user_id == user_id,
                    ProgressRecord.profile_id == profile_id,
                    col(ProgressRecord.content_id).in_(content_ids),
                )
            )
            return list(result.all())

    async def relay_outbox(self, bus: EventBus | EventSink, batch_size: int = 200) -> int:
        """Publish unpublished outbox events in order and mark them; returns how many."""
        published = 0
        while True:
            async with self.database.transaction() as session:
                result = await session.exec(
                    select(OutboxEventRecord)
                    .where(col(OutboxEventRecord.published_at).is_(None))
                    .order_by(col(OutboxEventRecord.id))
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
                rows = list(result.all())
                if not rows:
                    return published
                now = utcnow()
                for row in rows:
                    await bus.publish(Event(row.topic, row.key, row.payload))
                    row.published_at = now
                    session.add(row)
                published += len(rows)

    async def seed_demo_history(self) -> int:
        """The demo account's history and continue-watching rows (once)."""
        from datetime import timedelta

        from media_gateway.subgraphs.demo import DEMO_HISTORY, DEMO_USER_ID

        async with self.database.session() as session:
            exists = (
                await session.exec(
                    select(WatchEventRecord.id)
                    .where(WatchEventRecord.user_id == DEMO_USER_ID)
                    .limit(1)
                )
            ).first()
            if exists is not None:
                return 0
        now = utcnow()
        async with self.database.transaction() as session:
            for content_id, minutes, runtime, days_ago, finished in DEMO_HISTORY:
                when = now - timedelta(days=days_ago)
                position, duration = minutes * 60, runtime * 60
                session.add(
                    ProgressRecord(
                        user_id=DEMO_USER_ID,
                        content_id=content_id,
                        position_seconds=position,
                        duration_seconds=duration,
                        completed=finished,
                        updated_at=when,
                    )
                )
                session.add(
                    WatchEventRecord(
                        user_id=DEMO_USER_ID,
                        content_id=content_id,
                        watched_at=when,
                        position_seconds=position,
                        duration_seconds=duration,
                        completed=finished,
                        source="demo",
                    )
                )
        return len(DEMO_HISTORY)
