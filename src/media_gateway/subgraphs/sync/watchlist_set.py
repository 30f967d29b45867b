"""The watchlist's observed-remove set in the database (the rules are ``crdt.py``'s).

A title's adds (``sync_watchlist_adds``, tagged with their operation ids), the tags that
removes observed (``sync_watchlist_tombstones``, which may arrive before their add) and the
latest remove by the clock that listed no tags (``sync_watchlist_horizons``) decide whether
it is in the set; ``sync_watchlist`` is the materialised view that reads use. Every function
here works inside the caller's transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import tuple_
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.realtime import PendingEvents, Realtime, Timestamp
from media_gateway.storage.types import as_utc
from media_gateway.subgraphs.sync import crdt
from media_gateway.subgraphs.sync.models import (
    AppliedOperationRecord,
    WatchlistAddRecord,
    WatchlistEntryRecord,
    WatchlistHorizonRecord,
    WatchlistTombstoneRecord,
)

KIND_WATCHLIST = "watchlist"


def _hlc_wall(hlc: str) -> datetime:
    return datetime.fromtimestamp(Timestamp.parse(hlc).wall_ms / 1000, UTC)


async def ensure_origin_add(
    session: AsyncSession, user_id: str, profile_id: str, content_id: str
) -> None:
    """A title saved before the replicated set existed counts as one add at the origin."""
    entry = await session.get(WatchlistEntryRecord, (user_id, profile_id, content_id))
    if entry is None:
        return
    has_adds = (
        await session.exec(
            select(WatchlistAddRecord.tag)
            .where(WatchlistAddRecord.user_id == user_id)
            .where(WatchlistAddRecord.profile_id == profile_id)
            .where(WatchlistAddRecord.content_id == content_id)
            .limit(1)
        )
    ).first()
    if has_adds is None:
        session.add(
            WatchlistAddRecord(
                user_id=user_id,
                profile_id=profile_id,
                content_id=content_id,
                tag=crdt.ORIGIN_TAG,
                hlc="",
                added_at=entry.added_at,
            )
        )
        await session.flush()


async def apply(session: AsyncSession, user_id: str, profile_id: str, op: crdt.Operation) -> None:
    """Record an add or a remove of a title (``materialize`` then brings its row in line)."""
    await ensure_origin_add(session, user_id, profile_id, op.content_id)
    key = (user_id, profile_id, op.content_id)
    if op.type == crdt.WATCHLIST_ADD:
        if await session.get(WatchlistAddRecord, (*key, op.id)) is None:
            session.add(
                WatchlistAddRecord(
                    user_id=user_id,
                    profile_id=profile_id,
                    content_id=op.content_id,
                    tag=op.id,
                    hlc=op.hlc,
                    device_id=op.device_id,
                    added_at=_hlc_wall(op.hlc),
                )
            )
    elif op.observed_tags is None:
        horizon = await session.get(WatchlistHorizonRecord, key)
        if horizon is None:
            session.add(
                WatchlistHorizonRecord(
                    user_id=user_id, profile_id=profile_id, content_id=op.content_id, hlc=op.hlc
                )
            )
        elif crdt.later(horizon.hlc, op.hlc):
            horizon.hlc = op.hlc
            session.add(horizon)
    else:
        for tag in sorted(op.observed_tags):
            if await session.get(WatchlistTombstoneRecord, (*key, tag)) is not None:
                continue
            if (
                tag != crdt.ORIGIN_TAG
                and await session.get(WatchlistAddRecord, (*key, tag)) is None
                and await session.get(AppliedOperationRecord, (user_id, tag)) is not None
            ):
                continue  # that add was applied and already removed: nothing to wait for
            session.add(
                WatchlistTombstoneRecord(
                    user_id=user_id,
                    profile_id=profile_id,
                    content_id=op.content_id,
                    tag=tag,
                    operation_id=op.id,
                )
            )
    await session.flush()


async def _adds(
    session: AsyncSession, user_id: str, profile_id: str, content_id: str
) -> tuple[list[WatchlistAddRecord], list[WatchlistAddRecord]]:
    """The adds of a title on the profile's watchlist: (live, removed), oldest first."""
    adds = (
        await session.exec(
            select(WatchlistAddRecord)
            .where(WatchlistAddRecord.user_id == user_id)
            .where(WatchlistAddRecord.profile_id == profile_id)
            .where(WatchlistAddRecord.content_id == content_id)
            .order_by(col(WatchlistAddRecord.hlc), col(WatchlistAddRecord.tag))
        )
    ).all()
    if not adds:
        return [], []
    removed = set(
        (
            await session.exec(
                select(WatchlistTombstoneRecord.tag)
                .where(WatchlistTombstoneRecord.user_id == user_id)
                .where(WatchlistTombstoneRecord.profile_id == profile_id)
                .where(WatchlistTombstoneRecord.content_id == content_id)
            )
        ).all()
    )
    horizon = await session.get(WatchlistHorizonRecord, (user_id, profile_id, content_id))
    tombstones = {(content_id, tag) for tag in removed}
    live: list[WatchlistAddRecord] = []
    dead: list[WatchlistAddRecord] = []
    for add in adds:
        alive = crdt.is_live(
            add.tag,
            crdt.AddTag(content_id, add.hlc),
            tombstones,
            horizon.hlc if horizon else None,
        )
        (live if alive else dead).append(add)
    return live, dead


async def live_tags(
    session: AsyncSession, user_id: str, profile_id: str, content_id: str
) -> list[str]:
    """The tags keeping the title in the set: what a remove made now observes."""
    live, _ = await _adds(session, user_id, profile_id, content_id)
    return sorted(add.tag for add in live)


async def _compact(
    session: AsyncSession,
    user_id: str,
    profile_id: str,
    content_id: str,
    dead: list[WatchlistAddRecord],
) -> None:
    """Forget the adds that a remove has removed, with the tombstones that removed them.

    Safe because replays are recognised by operation id (the applied-operation log):
    the same add delivered again is a duplicate and cannot bring the title back, and a
    later remove that observed an add already forgotten records no tombstone (see
    ``apply``). Tombstones still waiting for their add are kept, as is the origin add of
    titles saved before the replicated set."""
    tags = [add.tag for add in dead if add.tag != crdt.ORIGIN_TAG]
    if not tags:
        return
    await session.exec(
        delete(WatchlistAddRecord)
        .where(col(WatchlistAddRecord.user_id) == user_id)
        .where(col(WatchlistAddRecord.profile_id) == profile_id)
        .where(col(WatchlistAddRecord.content_id) == content_id)
        .where(col(WatchlistAddRecord.tag).in_(tags))
    )
    await session.exec(
        delete(WatchlistTombstoneRecord)
        .where(col(WatchlistTombstoneRecord.user_id) == user_id)
        .where(col(WatchlistTombstoneRecord.profile_id) == profile_id)
        .where(col(WatchlistTombstoneRecord.content_id) == content_id)
        .where(col(WatchlistTombstoneRecord.tag).in_(tags))
    )


async def materialize(
    session: AsyncSession,
    pending: PendingEvents,
    realtime: Realtime,
    user_id: str,
    profile_id: str,
    device_id: str,
    content_id: str,
) -> None:
    """Bring the watchlist row of a title in line with the set (a function of its adds,
    tombstones and horizon, so the same whatever order they arrived in), and record the
    change as a real-time event."""
    live, dead = await _adds(session, user_id, profile_id, content_id)
    await _compact(session, user_id, profile_id, content_id, dead)
    tags = sorted(add.tag for add in live)
    entry = await session.get(WatchlistEntryRecord, (user_id, profile_id, content_id))
    if live:
        added_at = min(as_utc(add.added_at) for add in live)
        if entry is not None:
            if list(entry.tags or []) != tags or as_utc(entry.added_at) != added_at:
                entry.tags, entry.added_at = tags, added_at
                session.add(entry)
            return
        session.add(
            WatchlistEntryRecord(
                user_id=user_id,
                profile_id=profile_id,
                content_id=content_id,
                added_at=added_at,
                tags=tags,
            )
        )
    elif entry is None:
        return
    else:
        await session.delete(entry)
    await realtime.record(
        session,
        pending,
        user_id=user_id,
        kind=KIND_WATCHLIST,
        device_id=device_id or None,
        payload={
            "profileId": profile_id,
            "contentId": content_id,
            "inWatchlist": bool(live),
            "deviceId": device_id,
            "tags": tags,
        },
    )


async def forget_waiting_removes(session: AsyncSession, applied_before: datetime) -> None:
    """Forget the tombstones that operations applied before the time recorded (removes
    whose add never arrived, once their operation ids are forgotten)."""
    old = select(AppliedOperationRecord.user_id, AppliedOperationRecord.operation_id).where(
        col(AppliedOperationRecord.applied_at) < applied_before
    )
    await session.exec(
        delete(WatchlistTombstoneRecord).where(
            tuple_(
                col(WatchlistTombstoneRecord.user_id),
                col(WatchlistTombstoneRecord.operation_id),
            ).in_(old)
        )
    )
