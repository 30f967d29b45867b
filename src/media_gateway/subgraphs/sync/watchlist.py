"""Each profile's watchlist: reading it, and adding or removing a title from the server.

The server's own adds and removes are operations of the replicated set like a device's
(see ``replication.py`` and ``watchlist_set.py``), so they merge with offline changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import tuple_
from sqlmodel import col, select

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.realtime import Realtime
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, new_id
from media_gateway.subgraphs.sync import crdt, watchlist_set
from media_gateway.subgraphs.sync.errors import SyncError
from media_gateway.subgraphs.sync.models import WatchlistEntryRecord
from media_gateway.subgraphs.sync.replication import ReplicationService

MAX_WATCHLIST = 1000


@dataclass(frozen=True)
class SavedTitle:
    """A title on a profile's watchlist, with the add tags keeping it there."""

    user_id: str
    profile_id: str
    content_id: str
    added_at: datetime
    tags: tuple[str, ...]

    @classmethod
    def of(cls, record: WatchlistEntryRecord) -> SavedTitle:
        return cls(
            user_id=record.user_id,
            profile_id=record.profile_id,
            content_id=record.content_id,
            added_at=as_utc(record.added_at),
            tags=tuple(record.tags or ()),
        )


class WatchlistService:
    def __init__(
        self, database: Database, realtime: Realtime, replication: ReplicationService
    ) -> None:
        self.database = database
        self.realtime = realtime
        self.replication = replication

    async def watchlists(self, owners: Sequence[tuple[str, str]]) -> list[SavedTitle]:
        """The watchlists of some (account, profile) pairs, most recently added first."""
        if not owners:
            return []
        async with self.database.session() as session:
            result = await session.exec(
                select(WatchlistEntryRecord)
                .where(
                    tuple_(
                        col(WatchlistEntryRecord.user_id), col(WatchlistEntryRecord.profile_id)
                    ).in_(list(owners))
                )
                .order_by(col(WatchlistEntryRecord.added_at).desc())
            )
            return [SavedTitle.of(r) for r in result.all()]

    async def account_watchlist(self, user_id: str) -> list[SavedTitle]:
        """Every profile's watchlist of an account, most recently added first (operators)."""
        async with self.database.session() as session:
            result = await session.exec(
                select(WatchlistEntryRecord)
                .where(WatchlistEntryRecord.user_id == user_id)
                .order_by(col(WatchlistEntryRecord.added_at).desc())
            )
            return [SavedTitle.of(r) for r in result.all()]

    async def add(
        self,
        user_id: str,
        content_id: str,
        device_id: str = "",
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> SavedTitle | None:
        """Add the title to the profile's watchlist with a new tag, even when it is already
        there: the add then also wins over a remove a device made offline without having
        seen it."""
        key = (user_id, profile_id, content_id)
        async with self.database.session() as session:
            existing = await session.get(WatchlistEntryRecord, key)
            count = len(
                (
                    await session.exec(
                        select(WatchlistEntryRecord.content_id).where(
                            WatchlistEntryRecord.user_id == user_id,
                            WatchlistEntryRecord.profile_id == profile_id,
                        )
                    )
                ).all()
            )
        if existing is None and count >= MAX_WATCHLIST:
            raise SyncError(f"A watchlist holds at most {MAX_WATCHLIST} titles.", "LIMIT_REACHED")
        op = crdt.Operation(
            new_id(), crdt.WATCHLIST_ADD, content_id, str(self.realtime.clock.tick()), device_id
        )
        await self.replication.apply_operations(user_id, device_id, [op], profile_id=profile_id)
        async with self.database.session() as session:
            entry = await session.get(WatchlistEntryRecord, key)
        return None if entry is None else SavedTitle.of(entry)

    async def remove(
        self,
        user_id: str,
        content_id: str,
        device_id: str = "",
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> bool:
        """Remove the title as the server sees it now: the remove observes the tags stored
        for it, so an add the server has not received yet (a device offline) survives."""
        async with self.database.transaction() as session:
            await watchlist_set.ensure_origin_add(session, user_id, profile_id, content_id)
            observed = await watchlist_set.live_tags(session, user_id, profile_id, content_id)
        if not observed:
            return False
        op = crdt.Operation(
            new_id(),
            crdt.WATCHLIST_REMOVE,
            content_id,
            str(self.realtime.clock.tick()),
            device_id,
            observed_tags=frozenset(observed),
        )
        await self.replication.apply_operations(user_id, device_id, [op], profile_id=profile_id)
        return True
