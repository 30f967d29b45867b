"""What each profile watched: resume points, continue-watching and the watch history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc
from media_gateway.subgraphs.playback.models import ProgressRecord, WatchEventRecord
from media_gateway.subgraphs.playback.resume import MIN_RESUME_SECONDS


@dataclass(frozen=True)
class ResumePosition:
    """The latest position of a profile in a title."""

    user_id: str
    profile_id: str
    content_id: str
    position_seconds: int
    duration_seconds: int | None
    completed: bool
    updated_at: datetime

    @classmethod
    def of(cls, record: ProgressRecord) -> ResumePosition:
        return cls(
            user_id=record.user_id,
            profile_id=record.profile_id,
            content_id=record.content_id,
            position_seconds=record.position_seconds,
            duration_seconds=record.duration_seconds,
            completed=record.completed,
            updated_at=as_utc(record.updated_at),
        )


@dataclass(frozen=True)
class Viewing:
    """One entry of a profile's watch history."""

    content_id: str
    watched_at: datetime
    position_seconds: int
    duration_seconds: int | None
    completed: bool

    @classmethod
    def of(cls, record: WatchEventRecord) -> Viewing:
        return cls(
            content_id=record.content_id,
            watched_at=as_utc(record.watched_at),
            position_seconds=record.position_seconds,
            duration_seconds=record.duration_seconds,
            completed=record.completed,
        )


@dataclass(frozen=True)
class HistoryPage:
    items: list[Viewing]
    total_count: int
    offset: int


class HistoryService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def continue_watching(
        self, user_id: str, first: int, *, profile_id: str = DEFAULT_PROFILE
    ) -> list[ResumePosition]:
        """Titles the profile started and did not finish, the most recent first."""
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
            return [ResumePosition.of(r) for r in result.all()]

    async def history(
        self, user_id: str, first: int, offset: int, *, profile_id: str | None = DEFAULT_PROFILE
    ) -> HistoryPage:
        """A page of one profile's history, or of every profile's (``profile_id=None``)."""
        mine = [WatchEventRecord.user_id == user_id]
        if profile_id is not None:
            mine.append(WatchEventRecord.profile_id == profile_id)
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
            return HistoryPage([Viewing.of(r) for r in result.all()], int(total), offset)

    async def progress_for(
        self, user_id: str, content_ids: Sequence[str], *, profile_id: str = DEFAULT_PROFILE
    ) -> list[ResumePosition]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ProgressRecord).where(
                    ProgressRecord.user_id == user_id,
                    ProgressRecord.profile_id == profile_id,
                    col(ProgressRecord.content_id).in_(content_ids),
                )
            )
            return [ResumePosition.of(r) for r in result.all()]
