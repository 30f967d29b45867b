"""The demo account's watch history and continue-watching rows (seeded once, when demo data
is enabled)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from media_gateway.platform.demo import DEMO_HISTORY, DEMO_USER_ID
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.playback.models import ProgressRecord, WatchEventRecord


async def seed_demo_history(database: Database) -> int:
    """Returns how many viewings were added (0 when the demo account already has some)."""
    async with database.session() as session:
        exists = (
            await session.exec(
                select(WatchEventRecord.id).where(WatchEventRecord.user_id == DEMO_USER_ID).limit(1)
            )
        ).first()
        if exists is not None:
            return 0
    now = utcnow()
    async with database.transaction() as session:
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
