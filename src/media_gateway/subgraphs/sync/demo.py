"""The demo account's watchlist and devices (seeded once, when demo data is enabled)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from media_gateway.platform.demo import DEMO_USER_ID, DEMO_WATCHLIST
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.sync import crdt
from media_gateway.subgraphs.sync.models import (
    DeviceRecord,
    WatchlistAddRecord,
    WatchlistEntryRecord,
)


async def seed_demo_watchlist(database: Database) -> int:
    """The demo watchlist (each title one add at the origin), a TV and a phone; returns how
    many titles were added (0 when the demo account already has a watchlist)."""
    async with database.session() as session:
        exists = (
            await session.exec(
                select(WatchlistEntryRecord.content_id)
                .where(WatchlistEntryRecord.user_id == DEMO_USER_ID)
                .limit(1)
            )
        ).first()
        if exists is not None:
            return 0
    now = utcnow()
    async with database.transaction() as session:
        for index, content_id in enumerate(DEMO_WATCHLIST):
            added_at = now - timedelta(hours=index + 1)
            session.add(
                WatchlistEntryRecord(
                    user_id=DEMO_USER_ID,
                    content_id=content_id,
                    added_at=added_at,
                    tags=[crdt.ORIGIN_TAG],
                )
            )
            session.add(
                WatchlistAddRecord(
                    user_id=DEMO_USER_ID,
                    content_id=content_id,
                    tag=crdt.ORIGIN_TAG,
                    hlc="",
                    added_at=added_at,
                )
            )
        session.add(
            DeviceRecord(
                user_id=DEMO_USER_ID,
                name="Living room TV",
                kind="TV",
                capabilities=["4k", "cast-target", "hdr", "remote-control", "volume-control"],
            )
        )
        session.add(
            DeviceRecord(
                user_id=DEMO_USER_ID, name="Phone", kind="PHONE", capabilities=["cast-source"]
            )
        )
    return len(DEMO_WATCHLIST)
