"""Device presence: which of a member's devices are connected right now.

A device is online while it holds a remote-command subscription in some process: each one
is a row of ``sync_device_connections`` whose lease the holding process renews. A change of
presence (connect, disconnect, sweep, in any process) writes the leases first, then locks
the device's row and looks at its leases: they take turns on the device, each seeing what
the previous ones committed (on SQLite the first write takes the database's one write lock),
and the presence itself changes by a conditional UPDATE that only one of them can win, so
each change is recorded once, as a real-time event.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.realtime import PendingEvents, Realtime
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, new_id, utcnow
from media_gateway.subgraphs.sync.errors import SyncError, not_your_device
from media_gateway.subgraphs.sync.models import DeviceConnectionRecord, DeviceRecord

log = logging.getLogger(__name__)

KIND_PRESENCE = "presence"
PRESENCE_TTL_SECONDS = 3600
# presence by leases: a device's connection counts for LEASE_SECONDS after its last renewal;
# each process renews the leases it holds every HEARTBEAT_SECONDS, and at that pace also
# sweeps (takes offline the devices whose holder stopped renewing: crashed or stalled)
LEASE_SECONDS = 90.0
HEARTBEAT_SECONDS = 30.0
LEASE_RENEWAL_BATCH = 5000  # connection ids per renewing UPDATE (bound-parameter limits)


class _DevicePresence(NamedTuple):
    user_id: str
    online: bool


class PresenceService:
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
                raise not_your_device()
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
