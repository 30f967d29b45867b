"""Playback sessions: one playback of a title on a device, from start to end.

A session belongs to the viewing profile that started it (``profile_id``; see
``media_gateway.auth.profiles``), and resumes where that profile left the title. Each change
moves the profile's resume point, writes the playback event to the outbox and records a
progress event for the account's other devices, in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.realtime import PendingEvents, Realtime
from media_gateway.storage.database import Database, insert_on_conflict
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.playback.models import (
    PlaybackSessionRecord,
    ProgressRecord,
    WatchEventRecord,
)
from media_gateway.subgraphs.playback.outbox import write_outbox
from media_gateway.subgraphs.playback.resume import COMPLETION_RATIO, is_complete, resume_point

STATES = ("PLAYING", "PAUSED", "BUFFERING", "ENDED")
# the kind of real-time event the ``playbackProgress`` subscription follows
KIND_PROGRESS = "progress"
PROGRESS_TTL_SECONDS = 24 * 3600
SEARCH_ID = re.compile(r"^[0-9a-f]{32}$")  # as the catalog hands them out


class PlaybackError(Exception):
    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Playback:
    """A playback session as its viewer sees it."""

    id: str
    user_id: str
    profile_id: str
    content_id: str
    device_id: str
    state: str
    position_seconds: int
    duration_seconds: int | None
    resume_from_seconds: int
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, record: PlaybackSessionRecord) -> Playback:
        return cls(
            id=record.id,
            user_id=record.user_id,
            profile_id=record.profile_id,
            content_id=record.content_id,
            device_id=record.device_id,
            state=record.state,
            position_seconds=record.position_seconds,
            duration_seconds=record.duration_seconds,
            resume_from_seconds=record.resume_from_seconds,
            started_at=as_utc(record.started_at),
            updated_at=as_utc(record.updated_at),
            ended_at=as_utc(record.ended_at) if record.ended_at else None,
        )


_SESSIONS: sa.Table = PlaybackSessionRecord.__table__  # type: ignore[attr-defined]
_PROGRESS: sa.Table = ProgressRecord.__table__  # type: ignore[attr-defined]


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


class SessionService:
    def __init__(self, database: Database, realtime: Realtime | None = None) -> None:
        self.database = database
        self.realtime = realtime

    async def session(self, user_id: str, profile_id: str, session_id: str) -> Playback | None:
        """One of the profile's sessions (None for anyone else's, existing or not)."""
        async with self.database.session() as session:
            record = await session.get(PlaybackSessionRecord, session_id)
        if record is None or (record.user_id, record.profile_id) != (user_id, profile_id):
            return None
        return Playback.of(record)

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
        search_id: str | None = None,
    ) -> Playback:
        """A session of the profile's, resuming where that profile left the title.
        ``search_id``: the search the title was picked from, carried on the playback event
        for the catalog's search analytics (click-through)."""
        if duration_seconds is not None and duration_seconds <= 0:
            raise PlaybackError("`durationSeconds` must be positive.")
        if search_id is not None and not SEARCH_ID.match(search_id):
            raise PlaybackError("`searchId` is not a search id (from a search's `searchId`).")
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
            await write_outbox(
                session, "started", record, **({"searchId": search_id} if search_id else {})
            )
            await self._record_progress(session, pending, record)
        await self._publish(pending)
        return Playback.of(record)

    async def _owned_session(
        self, session: AsyncSession, user_id: str, session_id: str
    ) -> PlaybackSessionRecord:
        record = await session.get(PlaybackSessionRecord, session_id)
        if record is None or record.user_id != user_id:
            raise PlaybackError("No such playback session.", "NOT_FOUND")
        return record

    async def update(
        self, user_id: str, session_id: str, position_seconds: int, state: str
    ) -> Playback:
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
            await write_outbox(session, "progress", record)
            await self._record_progress(session, pending, record)
        await self._publish(pending)
        return Playback.of(record)

    async def end(self, user_id: str, session_id: str) -> Playback:
        now = utcnow()
        pending = PendingEvents()
        async with self.database.transaction() as session:
            record = await self._owned_session(session, user_id, session_id)
            if record.ended_at is not None:
                return Playback.of(record)
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
            await write_outbox(session, "ended", record, completed=completed)
            await self._record_progress(session, pending, record)
        await self._publish(pending)
        return Playback.of(record)

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
