"""Playback sessions, resume points, continue-watching and history, with an event outbox."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.events import Event, EventBus
from media_gateway.subgraphs.playback.models import (
    OutboxEventRecord,
    PlaybackSessionRecord,
    ProgressRecord,
    WatchEventRecord,
)
from media_gateway.subscriptions import PendingEvents, Realtime

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


def _outbox(kind: str, session: PlaybackSessionRecord, **extra: Any) -> OutboxEventRecord:
    payload: dict[str, Any] = {
        "type": kind,
        "sessionId": session.id,
        "userId": session.user_id,
        "contentId": session.content_id,
        "deviceId": session.device_id,
        "positionSeconds": session.position_seconds,
        "durationSeconds": session.duration_seconds,
        "state": session.state,
        "occurredAt": utcnow().isoformat(),
        **extra,
    }
    return OutboxEventRecord(topic=PLAYBACK_TOPIC, key=session.user_id, payload=payload)


def _progress_payload(session: PlaybackSessionRecord) -> dict[str, Any]:
    return {
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
        self, user_id: str, content_id: str, device_id: str, duration_seconds: int | None
    ) -> PlaybackSessionRecord:
        if duration_seconds is not None and duration_seconds <= 0:
            raise PlaybackError("`durationSeconds` must be positive.")
        pending = PendingEvents()
        async with self.database.transaction() as session:
            progress = await session.get(ProgressRecord, (user_id, content_id))
            resume = 0
            if progress is not None:
                duration_seconds = duration_seconds or progress.duration_seconds
                resume = resume_point(
                    progress.position_seconds, duration_seconds, progress.completed
                )
            record = PlaybackSessionRecord(
                user_id=user_id,
                content_id=content_id,
                device_id=device_id,
                duration_seconds=duration_seconds,
                position_seconds=resume,
                resume_from_seconds=resume,
            )
            session.add(record)
            session.add(_outbox("started", record))
            await session.flush()
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
            record = await self._owned_session(session, user_id, session_id)
            if record.ended_at is not None:
                raise PlaybackError("This playback session has ended.", "SESSION_ENDED")
            if record.duration_seconds:
                position_seconds = min(position_seconds, record.duration_seconds)
            record.position_seconds = position_seconds
            record.state = state
            record.updated_at = now
            session.add(record)
            await self._save_progress(session, record, now)
            session.add(_outbox("progress", record))
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
            progress = await self._save_progress(session, record, now)
            session.add(
                WatchEventRecord(
                    user_id=user_id,
                    content_id=record.content_id,
                    watched_at=now,
                    position_seconds=record.position_seconds,
                    duration_seconds=record.duration_seconds,
                    completed=progress.completed,
                )
            )
            session.add(_outbox("ended", record, completed=progress.completed))
            await self._record_progress(session, pending, record)
        await self._publish(pending)
        return record

    async def _save_progress(
        self, session: AsyncSession, record: PlaybackSessionRecord, now: datetime
    ) -> ProgressRecord:
        progress = await session.get(ProgressRecord, (record.user_id, record.content_id))
        if progress is None:
            progress = ProgressRecord(user_id=record.user_id, content_id=record.content_id)
        progress.position_seconds = record.position_seconds
        progress.duration_seconds = record.duration_seconds or progress.duration_seconds
        progress.completed = is_complete(progress.position_seconds, progress.duration_seconds)
        progress.updated_at = now
        session.add(progress)
        return progress

    async def continue_watching(self, user_id: str, first: int) -> list[ProgressRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ProgressRecord)
                .where(
                    ProgressRecord.user_id == user_id,
                    col(ProgressRecord.completed).is_(False),
                    col(ProgressRecord.position_seconds) >= MIN_RESUME_SECONDS,
                )
                .order_by(col(ProgressRecord.updated_at).desc())
                .limit(first)
            )
            return list(result.all())

    async def history(self, user_id: str, first: int, offset: int) -> HistoryPage:
        async with self.database.session() as session:
            total = (
                await session.exec(
                    select(func.count())
                    .select_from(WatchEventRecord)
                    .where(WatchEventRecord.user_id == user_id)
                )
            ).one()
            result = await session.exec(
                select(WatchEventRecord)
                .where(WatchEventRecord.user_id == user_id)
                .order_by(col(WatchEventRecord.watched_at).desc(), col(WatchEventRecord.id).desc())
                .offset(offset)
                .limit(first)
            )
            return HistoryPage(list(result.all()), int(total), offset)

    async def progress_for(self, user_id: str, content_ids: Sequence[str]) -> list[ProgressRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ProgressRecord).where(
                    ProgressRecord.user_id == user_id,
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
