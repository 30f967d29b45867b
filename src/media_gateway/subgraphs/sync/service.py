"""A member's devices, each profile's watchlist and replicated progress, remote commands.

Devices belong to the account; the watchlist and the progress registers belong to one
viewing profile of it (``profile_id``; see ``media_gateway.profiles``), and their real-time
events name that profile.

Every change goes through the replicated data types of ``crdt.py`` (the watchlist set and
the progress registers, ordered by hybrid logical clocks) and records a real-time event in
the same transaction, published to the user's subscribers once committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import tuple_
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.profiles import DEFAULT_PROFILE
from media_gateway.realtime import (
    InvalidTimestamp,
    PendingEvents,
    Realtime,
    Timestamp,
)
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, new_id, utcnow
from media_gateway.subgraphs.sync import crdt
from media_gateway.subgraphs.sync.models import (
    AppliedOperationRecord,
    DeviceConnectionRecord,
    DeviceRecord,
    ProgressRegisterRecord,
    WatchlistAddRecord,
    WatchlistEntryRecord,
    WatchlistHorizonRecord,
    WatchlistTombstoneRecord,
)

log = logging.getLogger(__name__)

DEVICE_KINDS = ("PHONE", "TABLET", "TV", "WEB", "CONSOLE")
MAX_WATCHLIST = 1000
MAX_DEVICES = 50
MAX_OPERATIONS = 500
# how old an offline operation may be (by its clock) and still be applied: what lets the
# server forget applied operation ids and removes that still wait for their add
MAX_OPERATION_AGE = timedelta(days=30)
COMMAND_TYPES = ("PLAY", "PAUSE", "SEEK", "STOP", "VOLUME", "CAST")
# what a target device must be able to do to receive each command
REMOTE_CONTROL = "remote-control"
COMMAND_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "PLAY": (REMOTE_CONTROL,),
    "PAUSE": (REMOTE_CONTROL,),
    "SEEK": (REMOTE_CONTROL,),
    "STOP": (REMOTE_CONTROL,),
    "VOLUME": (REMOTE_CONTROL, "volume-control"),
    "CAST": (REMOTE_CONTROL, "cast-target"),
}
MIN_COMMAND_TTL, MAX_COMMAND_TTL = 1, 3600
PRESENCE_TTL_SECONDS = 3600
# presence by leases: a device's connection counts for LEASE_SECONDS after its last renewal;
# each process renews the leases it holds every HEARTBEAT_SECONDS, and at that pace also
# sweeps (takes offline the devices whose holder stopped renewing: crashed or stalled)
LEASE_SECONDS = 90.0
HEARTBEAT_SECONDS = 30.0
LEASE_RENEWAL_BATCH = 5000  # connection ids per renewing UPDATE (bound-parameter limits)
PROGRESS_TTL_SECONDS = 24 * 3600
PROGRESS_STATES = ("PLAYING", "PAUSED", "BUFFERING", "ENDED")

KIND_PROGRESS = "progress"
KIND_COMMAND = "command"
KIND_WATCHLIST = "watchlist"
KIND_PRESENCE = "presence"


class SyncError(Exception):
    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RemoteCommandSpec:
    type: str
    position_seconds: int | None = None
    volume: int | None = None
    content_id: str | None = None


@dataclass(frozen=True)
class SyncOutcome:
    applied: int
    duplicates: int
    hlc: str


class _DevicePresence(NamedTuple):
    user_id: str
    online: bool


def _not_your_device() -> SyncError:
    """The one answer for a device that does not exist or is someone else's: NOT_FOUND, so
    that nobody learns whether another member's device id exists."""
    return SyncError("No such device.", "NOT_FOUND")


def _hlc_wall(hlc: str) -> datetime:
    return datetime.fromtimestamp(Timestamp.parse(hlc).wall_ms / 1000, UTC)


class SyncService:
    def __init__(
        self,
        database: Database,
        realtime: Realtime,
        *,
        lease_seconds: float = LEASE_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        if not 0 < heartbeat_seconds < lease_seconds:
            raise ValueError("leases must be renewed (heartbeat) before they run out")
        self.database = database
        self.realtime = realtime
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = heartbeat_seconds
        # the remote-command connections this process holds (their leases it renews):
        # connection id -> (user id, device id)
        self._held: dict[str, tuple[str, str]] = {}

    async def watchlists(self, owners: Sequence[tuple[str, str]]) -> list[WatchlistEntryRecord]:
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
            return list(result.all())

    async def devices(self, user_ids: Sequence[str]) -> list[DeviceRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(DeviceRecord)
                .where(col(DeviceRecord.user_id).in_(user_ids))
                .order_by(col(DeviceRecord.registered_at))
            )
            return list(result.all())

    async def add_to_watchlist(
        self,
        user_id: str,
        content_id: str,
        device_id: str = "",
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> WatchlistEntryRecord | None:
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
        await self.apply_operations(user_id, device_id, [op], profile_id=profile_id)
        async with self.database.session() as session:
            return await session.get(WatchlistEntryRecord, key)

    async def remove_from_watchlist(
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
            await self._ensure_origin_add(session, user_id, profile_id, content_id)
            observed = await self._live_tags(session, user_id, profile_id, content_id)
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
        await self.apply_operations(user_id, device_id, [op], profile_id=profile_id)
        return True

    # ------------------------------------------------------------ replicated state
    def validate_operation(self, op: crdt.Operation) -> None:
        if not op.id or len(op.id) > 128:
            raise SyncError("An operation id has 1 to 128 characters.")
        if op.type not in crdt.OPERATION_TYPES:
            raise SyncError(f"Unknown operation type {op.type!r}.")
        if not op.content_id or len(op.content_id) > 160:
            raise SyncError("An operation names a title (`contentId`).")
        try:
            stamp = Timestamp.parse(op.hlc)
            self.realtime.clock.observe(stamp)
        except InvalidTimestamp as exc:
            raise SyncError(f"Operation {op.id}: {exc}.") from None
        if stamp.wall_ms / 1000 < (utcnow() - MAX_OPERATION_AGE).timestamp():
            raise SyncError(
                f"Operation {op.id} is older than {MAX_OPERATION_AGE.days} days and can no "
                "longer be merged; read the current state (syncState) and drop the queue.",
                "OPERATION_TOO_OLD",
            )
        if op.type == crdt.PROGRESS:
            if op.position_seconds is None or op.position_seconds < 0:
                raise SyncError(f"Operation {op.id}: `positionSeconds` must be 0 or more.")
            if op.duration_seconds is not None and op.duration_seconds <= 0:
                raise SyncError(f"Operation {op.id}: `durationSeconds` must be positive.")
            if op.state is not None and op.state not in PROGRESS_STATES:
                raise SyncError(f"Operation {op.id}: unknown state {op.state!r}.")
        if op.observed_tags is not None:
            if op.type != crdt.WATCHLIST_REMOVE:
                raise SyncError(f"Operation {op.id}: only a remove lists `observedTags`.")
            if len(op.observed_tags) > crdt.MAX_OBSERVED_TAGS:
                raise SyncError(
                    f"Operation {op.id}: at most {crdt.MAX_OBSERVED_TAGS} `observedTags`."
                )
            if any(not tag or len(tag) > 128 for tag in op.observed_tags):
                raise SyncError(f"Operation {op.id}: a tag has 1 to 128 characters.")

    async def sync_operations(
        self,
        user_id: str,
        device_id: str,
        operations: Sequence[crdt.Operation],
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> SyncOutcome:
        """Replay a device's offline queue into the profile's state: idempotent by operation
        id, order-independent."""
        if len(operations) > MAX_OPERATIONS:
            raise SyncError(f"Send at most {MAX_OPERATIONS} operations at a time.")
        await self.owned_device(user_id, device_id)
        for op in operations:
            self.validate_operation(op)
        return await self.apply_operations(user_id, device_id, operations, profile_id=profile_id)

    async def apply_operations(
        self,
        user_id: str,
        device_id: str,
        operations: Sequence[crdt.Operation],
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> SyncOutcome:
        pending = PendingEvents()
        applied = duplicates = 0
        async with self.database.transaction() as session:
            seen: set[str] = set()
            touched: set[str] = set()
            for op in operations:
                if (
                    op.id in seen
                    or await session.get(AppliedOperationRecord, (user_id, op.id)) is not None
                ):
                    duplicates += 1
                    continue
                seen.add(op.id)
                session.add(
                    AppliedOperationRecord(
                        user_id=user_id, operation_id=op.id, device_id=device_id, type=op.type
                    )
                )
                applied += 1
                if op.type == crdt.PROGRESS:
                    await self._apply_progress(session, pending, user_id, profile_id, device_id, op)
                else:
                    await self._apply_watchlist_op(session, user_id, profile_id, op)
                    touched.add(op.content_id)
            for content_id in sorted(touched):
                await self._materialize(
                    session, pending, user_id, profile_id, device_id, content_id
                )
        await self.realtime.publish(pending)
        return SyncOutcome(applied, duplicates, str(self.realtime.clock.tick()))

    async def _ensure_origin_add(
        self, session: AsyncSession, user_id: str, profile_id: str, content_id: str
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

    async def _apply_watchlist_op(
        self, session: AsyncSession, user_id: str, profile_id: str, op: crdt.Operation
    ) -> None:
        await self._ensure_origin_add(session, user_id, profile_id, op.content_id)
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
        self, session: AsyncSession, user_id: str, profile_id: str, content_id: str
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

    async def _compact(
        self,
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
        ``_apply_watchlist_op``). Tombstones still waiting for their add are kept, as is the
        origin add of titles saved before the replicated set."""
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

    async def prune_operations(self) -> int:
        """Forget applied operation ids, and removes still waiting for their add, once they
        are older than the replay window (anything that old is refused anyway); returns how
        many operation ids were forgotten."""
        cutoff = utcnow() - MAX_OPERATION_AGE - timedelta(days=1)
        old = select(AppliedOperationRecord.user_id, AppliedOperationRecord.operation_id).where(
            col(AppliedOperationRecord.applied_at) < cutoff
        )
        async with self.database.transaction() as session:
            await session.exec(
                delete(WatchlistTombstoneRecord).where(
                    tuple_(
                        col(WatchlistTombstoneRecord.user_id),
                        col(WatchlistTombstoneRecord.operation_id),
                    ).in_(old)
                )
            )
            result = await session.exec(
                delete(AppliedOperationRecord).where(
                    col(AppliedOperationRecord.applied_at) < cutoff
                )
            )
            return int(result.rowcount or 0)

    async def _live_tags(
        self, session: AsyncSession, user_id: str, profile_id: str, content_id: str
    ) -> list[str]:
        live, _ = await self._adds(session, user_id, profile_id, content_id)
        return sorted(add.tag for add in live)

    async def _materialize(
        self,
        session: AsyncSession,
        pending: PendingEvents,
        user_id: str,
        profile_id: str,
        device_id: str,
        content_id: str,
    ) -> None:
        """Bring the watchlist row of a title in line with the set (a function of its adds,
        tombstones and horizon, so the same whatever order they arrived in)."""
        live, dead = await self._adds(session, user_id, profile_id, content_id)
        await self._compact(session, user_id, profile_id, content_id, dead)
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
        await self.realtime.record(
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

    async def _apply_progress(
        self,
        session: AsyncSession,
        pending: PendingEvents,
        user_id: str,
        profile_id: str,
        device_id: str,
        op: crdt.Operation,
    ) -> None:
        key = (user_id, profile_id, op.content_id)
        register = await session.get(ProgressRegisterRecord, key)
        if register is not None and not crdt.later(register.hlc, op.hlc):
            return
        if register is None:
            register = ProgressRegisterRecord(
                user_id=user_id,
                profile_id=profile_id,
                content_id=op.content_id,
                hlc=op.hlc,
                device_id=device_id,
            )
        register.hlc = op.hlc
        register.position_seconds = op.position_seconds or 0
        register.duration_seconds = op.duration_seconds or register.duration_seconds
        register.state = op.state or "PAUSED"
        register.device_id = device_id
        register.updated_at = utcnow()
        session.add(register)
        await self.realtime.record(
            session,
            pending,
            user_id=user_id,
            kind=KIND_PROGRESS,
            device_id=device_id,
            hlc=op.hlc,
            ttl_seconds=PROGRESS_TTL_SECONDS,
            payload={
                "profileId": profile_id,
                "contentId": op.content_id,
                "deviceId": device_id,
                "sessionId": None,
                "positionSeconds": register.position_seconds,
                "durationSeconds": register.duration_seconds,
                "state": register.state,
            },
        )

    async def progress_registers(
        self, user_id: str, *, profile_id: str = DEFAULT_PROFILE
    ) -> list[ProgressRegisterRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ProgressRegisterRecord)
                .where(
                    ProgressRegisterRecord.user_id == user_id,
                    ProgressRegisterRecord.profile_id == profile_id,
                )
                .order_by(col(ProgressRegisterRecord.hlc).desc())
            )
            return list(result.all())

    # ------------------------------------------------------------ devices
    async def owned_device(self, user_id: str, device_id: str) -> DeviceRecord:
        """The caller's device; NOT_FOUND for any other (existing or not)."""
        async with self.database.session() as session:
            device = await session.get(DeviceRecord, device_id)
        if device is None or device.user_id != user_id:
            raise _not_your_device()
        return device

    # ------------------------------------------------------------ presence
    # A device is online while it holds a remote-command subscription in some process: each
    # one is a row of ``sync_device_connections`` whose lease the holding process renews.
    # A change of presence (connect, disconnect, sweep, in any process) writes the leases
    # first, then locks the device's row and looks at its leases: they take turns on the
    # device, each seeing what the previous ones committed (on SQLite the first write takes
    # the database's one write lock), and the presence itself changes by a conditional
    # UPDATE that only one of them can win, so each change is recorded once.
    async def device_connected(self, user_id: str, device_id: str) -> str:
        """A remote-command subscription of the device opened: take a lease (the device is
        online from now on, its presence event recorded if it was not) and return the
        connection's id, for ``device_disconnected``. NOT_FOUND unless it is the user's."""
        connection_id = new_id()
        pending = await self._take_lease(user_id, device_id, connection_id, renewal=False)
        self._held[connection_id] = (user_id, device_id)
        await self.realtime.publish(pending)
        return connection_id

    async def device_disconnected(self, user_id: str, device_id: str, connection_id: str) -> None:
        """The subscription ended: drop its lease; the device goes offline unless it still
        holds an unexpired one (in this process or another)."""
        self._held.pop(connection_id, None)
        pending = PendingEvents()
        now = utcnow()
        async with self.database.transaction() as session:
            await session.exec(
                delete(DeviceConnectionRecord).where(
                    col(DeviceConnectionRecord.id) == connection_id
                )
            )
            device = await self._lock_device(session, device_id)
            if (
                device is not None
                and device.user_id == user_id
                and device.online
                and not await self._has_lease(session, device_id, now)
            ):
                await self._set_presence(session, pending, user_id, device_id, False, now)
        await self.realtime.publish(pending)

    async def release_leases(self) -> int:
        """Graceful shutdown: give up every lease this process holds, so that its devices go
        offline now (unless another process holds them too) rather than once the leases run
        out; returns how many were given up."""
        held = list(self._held.items())
        for connection_id, (user_id, device_id) in held:
            try:
                await self.device_disconnected(user_id, device_id, connection_id)
            except Exception as exc:  # the lease still runs out by itself
                log.warning("lease not released: %s", exc.__class__.__name__)
        return len(held)

    async def maintain_presence(self) -> None:
        """The periodic step of every process: renew its own leases, then sweep."""
        await self.renew_leases()
        await self.sweep_presence()

    async def renew_leases(self) -> int:
        """Extend the lease of every connection this process holds (one UPDATE); returns
        how many were extended. A lease lost meanwhile (swept while this process stalled
        past it) is taken again, and its device brought back online."""
        held = dict(self._held)
        if not held:
            return 0
        ids = list(held)
        expires_at = utcnow() + timedelta(seconds=self.lease_seconds)
        renewed, lost = 0, []
        async with self.database.transaction() as session:
            for start in range(0, len(ids), LEASE_RENEWAL_BATCH):
                result = await session.exec(
                    update(DeviceConnectionRecord)
                    .where(
                        col(DeviceConnectionRecord.id).in_(ids[start : start + LEASE_RENEWAL_BATCH])
                    )
                    .values(expires_at=expires_at)
                    .execution_options(synchronize_session=False)
                )
                renewed += int(result.rowcount or 0)
            if renewed < len(ids):
                rows = await session.exec(
                    select(DeviceConnectionRecord.id).where(col(DeviceConnectionRecord.id).in_(ids))
                )
                present = set(rows.all())
                lost = [connection_id for connection_id in ids if connection_id not in present]
        for connection_id in lost:
            user_id, device_id = held[connection_id]
            try:
                pending = await self._take_lease(user_id, device_id, connection_id, renewal=True)
            except SyncError:  # the device is gone: nothing to hold any more
                self._held.pop(connection_id, None)
                continue
            await self.realtime.publish(pending)
            if connection_id not in self._held:
                # it ended while its lease was being taken again: its disconnect may have
                # found no row to delete, so disconnect once more now that the row exists
                await self.device_disconnected(user_id, device_id, connection_id)
        return renewed

    async def sweep_presence(self) -> int:
        """Take offline every device left online with no unexpired lease (its holder died
        or stalled), then delete the expired leases; returns how many devices went offline.
        Safe beside the sweepers of other processes: a device goes offline once."""
        now = utcnow()
        live = sa.exists().where(
            col(DeviceConnectionRecord.device_id) == col(DeviceRecord.id),
            col(DeviceConnectionRecord.expires_at) > now,
        )
        async with self.database.session() as session:
            stale = (
                await session.exec(
                    select(DeviceRecord.id).where(col(DeviceRecord.online).is_(True), ~live)
                )
            ).all()
        offline = 0
        for device_id in stale:
            offline += await self._expire(device_id)
        async with self.database.transaction() as session:
            await session.exec(
                delete(DeviceConnectionRecord).where(col(DeviceConnectionRecord.expires_at) <= now)
            )
        return offline

    async def _expire(self, device_id: str) -> bool:
        """Take the device offline if it has no unexpired lease left: ``lastSeenAt`` is when
        its last lease ran out (or now, when there is none)."""
        pending = PendingEvents()
        now = utcnow()
        async with self.database.transaction() as session:
            # the expired leases go first: a renewal of one either committed before (the row
            # no longer matches, stays, and counts below) or finds it gone and takes it again
            expired = await session.exec(
                delete(DeviceConnectionRecord)
                .where(
                    col(DeviceConnectionRecord.device_id) == device_id,
                    col(DeviceConnectionRecord.expires_at) <= now,
                )
                .returning(col(DeviceConnectionRecord.expires_at))
            )
            ran_out = [as_utc(value) for value in expired.scalars().all()]
            device = await self._lock_device(session, device_id)
            if device is None or not device.online:
                return False  # another sweeper or a disconnect came first
            if await self._has_lease(session, device_id, now):
                return False  # connected again meanwhile
            went = await self._set_presence(
                session, pending, device.user_id, device_id, False, max(ran_out, default=now)
            )
        await self.realtime.publish(pending)
        return went

    async def _take_lease(
        self, user_id: str, device_id: str, connection_id: str, *, renewal: bool
    ) -> PendingEvents:
        """Commit a fresh lease for the connection (a new row, or the one it lost) and bring
        the device online if it was not; returns the events to publish."""
        pending = PendingEvents()
        if renewal and connection_id not in self._held:
            return pending  # it ended meanwhile
        now = utcnow()
        async with self.database.transaction() as session:
            expires_at = now + timedelta(seconds=self.lease_seconds)
            lease = await session.get(DeviceConnectionRecord, connection_id) if renewal else None
            if lease is None:
                lease = DeviceConnectionRecord(
                    id=connection_id,
                    user_id=user_id,
                    device_id=device_id,
                    opened_at=now,
                    expires_at=expires_at,
                )
            lease.expires_at = expires_at
            session.add(lease)
            await session.flush()  # the lease first (on SQLite, this takes the write lock)
            device = await self._lock_device(session, device_id)
            if device is None or device.user_id != user_id:
                raise _not_your_device()
            if not device.online:
                await self._set_presence(session, pending, user_id, device_id, True, now)
        return pending

    @staticmethod
    async def _lock_device(session: AsyncSession, device_id: str) -> _DevicePresence | None:
        """The device's owner and presence, its row locked until the transaction ends
        (PostgreSQL; on SQLite, the transaction's first write already holds the database's
        one write lock)."""
        row = (
            await session.exec(
                select(DeviceRecord.user_id, DeviceRecord.online)
                .where(col(DeviceRecord.id) == device_id)
                .with_for_update()
            )
        ).first()
        return None if row is None else _DevicePresence(row[0], bool(row[1]))

    @staticmethod
    async def _has_lease(session: AsyncSession, device_id: str, now: datetime) -> bool:
        found = (
            await session.exec(
                select(DeviceConnectionRecord.id)
                .where(
                    col(DeviceConnectionRecord.device_id) == device_id,
                    col(DeviceConnectionRecord.expires_at) > now,
                )
                .limit(1)
            )
        ).first()
        return found is not None

    async def _set_presence(
        self,
        session: AsyncSession,
        pending: PendingEvents,
        user_id: str,
        device_id: str,
        online: bool,
        at: datetime,
    ) -> bool:
        """Set the device online or offline and record the presence event, in the session's
        transaction; only if it was not already (False then, and no event)."""
        result = await session.exec(
            update(DeviceRecord)
            .where(col(DeviceRecord.id) == device_id, col(DeviceRecord.online).is_(not online))
            .values(online=online, last_seen_at=at)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        await self.realtime.record(
            session,
            pending,
            user_id=user_id,
            kind=KIND_PRESENCE,
            device_id=device_id,
            ttl_seconds=PRESENCE_TTL_SECONDS,
            payload={"deviceId": device_id, "online": online, "lastSeenAt": at.isoformat()},
        )
        return True

    # ------------------------------------------------------------ remote commands
    async def send_command(
        self,
        user_id: str,
        target_device_id: str,
        command: RemoteCommandSpec,
        ttl_seconds: int,
        from_device_id: str | None = None,
    ) -> dict[str, Any]:
        if command.type not in COMMAND_TYPES:
            raise SyncError(f"Unknown command {command.type!r}.")
        if not MIN_COMMAND_TTL <= ttl_seconds <= MAX_COMMAND_TTL:
            raise SyncError(
                f"`ttlSeconds` must be between {MIN_COMMAND_TTL} and {MAX_COMMAND_TTL}."
            )
        position = command.position_seconds
        if (command.type == "SEEK" and position is None) or (position is not None and position < 0):
            raise SyncError(f"{command.type} needs `positionSeconds` of 0 or more.")
        if command.type == "VOLUME" and (command.volume is None or not 0 <= command.volume <= 100):
            raise SyncError("VOLUME needs `volume` between 0 and 100.")
        if command.type == "CAST" and not command.content_id:
            raise SyncError("CAST needs the title to play (`contentId`).")
        target = await self.owned_device(user_id, target_device_id)
        if from_device_id is not None:
            await self.owned_device(user_id, from_device_id)
        missing = [c for c in COMMAND_CAPABILITIES[command.type] if c not in target.capabilities]
        if missing:
            raise SyncError(
                f"The device '{target.name}' cannot receive {command.type} "
                f"(it lacks: {', '.join(missing)}).",
                "CAPABILITY_MISSING",
            )
        payload: dict[str, Any] = {
            "commandId": new_id(),
            "type": command.type,
            "targetDeviceId": target_device_id,
            "fromDeviceId": from_device_id,
            "positionSeconds": command.position_seconds
            if command.position_seconds is not None
            else (0 if command.type == "CAST" else None),
            "volume": command.volume,
            "contentId": command.content_id,
        }
        record = await self.realtime.emit(
            user_id=user_id,
            kind=KIND_COMMAND,
            device_id=target_device_id,
            payload=payload,
            ttl_seconds=ttl_seconds,
        )
        return {
            **payload,
            "cursor": str(record.seq),
            "issuedAt": as_utc(record.created_at),
            "expiresAt": as_utc(record.expires_at),
        }

    async def register_device(
        self, user_id: str, name: str, kind: str, capabilities: Sequence[str]
    ) -> DeviceRecord:
        name = name.strip()
        if not 1 <= len(name) <= 120:
            raise SyncError("Name the device with 1 to 120 characters.")
        if kind not in DEVICE_KINDS:
            raise SyncError(f"Unknown device kind {kind!r}.")
        cleaned = sorted({c.strip().lower() for c in capabilities if c.strip()})[:32]
        async with self.database.transaction() as session:
            count = len(
                (
                    await session.exec(
                        select(DeviceRecord.id).where(DeviceRecord.user_id == user_id)
                    )
                ).all()
            )
            if count >= MAX_DEVICES:
                raise SyncError(f"An account has at most {MAX_DEVICES} devices.", "LIMIT_REACHED")
            device = DeviceRecord(user_id=user_id, name=name, kind=kind, capabilities=cleaned)
            session.add(device)
        return device

    async def seed_demo_watchlist(self) -> int:
        from datetime import timedelta

        from media_gateway.subgraphs.demo import DEMO_USER_ID, DEMO_WATCHLIST

        async with self.database.session() as session:
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
        async with self.database.transaction() as session:
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
