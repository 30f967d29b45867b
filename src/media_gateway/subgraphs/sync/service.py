"""A member's devices, watchlist, replicated progress and remote commands.

Every change goes through the replicated data types of ``crdt.py`` (the watchlist set and
the progress registers, ordered by hybrid logical clocks) and records a real-time event in
the same transaction, published to the user's subscribers once committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, new_id, utcnow
from media_gateway.subgraphs.sync import crdt
from media_gateway.subgraphs.sync.models import (
    AppliedOperationRecord,
    DeviceRecord,
    ProgressRegisterRecord,
    WatchlistAddRecord,
    WatchlistEntryRecord,
    WatchlistHorizonRecord,
    WatchlistTombstoneRecord,
)
from media_gateway.subscriptions import (
    InvalidTimestamp,
    PendingEvents,
    Realtime,
    Timestamp,
)

DEVICE_KINDS = ("PHONE", "TABLET", "TV", "WEB", "CONSOLE")
MAX_WATCHLIST = 1000
MAX_DEVICES = 50
MAX_OPERATIONS = 500
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


def _hlc_wall(hlc: str) -> datetime:
    return datetime.fromtimestamp(Timestamp.parse(hlc).wall_ms / 1000, UTC)


class SyncService:
    def __init__(self, database: Database, realtime: Realtime) -> None:
        self.database = database
        self.realtime = realtime
        # live remote-command subscriptions per device in this process (for presence)
        self._connections: dict[str, int] = {}

    async def watchlists(self, user_ids: Sequence[str]) -> list[WatchlistEntryRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(WatchlistEntryRecord)
                .where(col(WatchlistEntryRecord.user_id).in_(user_ids))
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
        self, user_id: str, content_id: str, device_id: str = ""
    ) -> WatchlistEntryRecord | None:
        """Add the title with a new tag, even when it is already there: the add then also
        wins over a remove a device made offline without having seen it."""
        async with self.database.session() as session:
            existing = await session.get(WatchlistEntryRecord, (user_id, content_id))
            count = len(
                (
                    await session.exec(
                        select(WatchlistEntryRecord.content_id).where(
                            WatchlistEntryRecord.user_id == user_id
                        )
                    )
                ).all()
            )
        if existing is None and count >= MAX_WATCHLIST:
            raise SyncError(f"A watchlist holds at most {MAX_WATCHLIST} titles.", "LIMIT_REACHED")
        op = crdt.Operation(
            new_id(), crdt.WATCHLIST_ADD, content_id, str(self.realtime.clock.tick()), device_id
        )
        await self.apply_operations(user_id, device_id, [op])
        async with self.database.session() as session:
            return await session.get(WatchlistEntryRecord, (user_id, content_id))

    async def remove_from_watchlist(
        self, user_id: str, content_id: str, device_id: str = ""
    ) -> bool:
        """Remove the title as the server sees it now: the remove observes the tags stored
        for it, so an add the server has not received yet (a device offline) survives."""
        async with self.database.transaction() as session:
            await self._ensure_origin_add(session, user_id, content_id)
            observed = await self._live_tags(session, user_id, content_id)
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
        await self.apply_operations(user_id, device_id, [op])
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
            self.realtime.clock.observe(Timestamp.parse(op.hlc))
        except InvalidTimestamp as exc:
            raise SyncError(f"Operation {op.id}: {exc}.") from None
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
        self, user_id: str, device_id: str, operations: Sequence[crdt.Operation]
    ) -> SyncOutcome:
        """Replay a device's offline queue: idempotent by operation id, order-independent."""
        if len(operations) > MAX_OPERATIONS:
            raise SyncError(f"Send at most {MAX_OPERATIONS} operations at a time.")
        await self.owned_device(user_id, device_id)
        for op in operations:
            self.validate_operation(op)
        return await self.apply_operations(user_id, device_id, operations)

    async def apply_operations(
        self, user_id: str, device_id: str, operations: Sequence[crdt.Operation]
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
                    await self._apply_progress(session, pending, user_id, device_id, op)
                else:
                    await self._apply_watchlist_op(session, user_id, op)
                    touched.add(op.content_id)
            for content_id in sorted(touched):
                await self._materialize(session, pending, user_id, device_id, content_id)
        await self.realtime.publish(pending)
        return SyncOutcome(applied, duplicates, str(self.realtime.clock.tick()))

    async def _ensure_origin_add(
        self, session: AsyncSession, user_id: str, content_id: str
    ) -> None:
        """A title saved before the replicated set existed counts as one add at the origin."""
        entry = await session.get(WatchlistEntryRecord, (user_id, content_id))
        if entry is None:
            return
        has_adds = (
            await session.exec(
                select(WatchlistAddRecord.tag)
                .where(WatchlistAddRecord.user_id == user_id)
                .where(WatchlistAddRecord.content_id == content_id)
                .limit(1)
            )
        ).first()
        if has_adds is None:
            session.add(
                WatchlistAddRecord(
                    user_id=user_id,
                    content_id=content_id,
                    tag=crdt.ORIGIN_TAG,
                    hlc="",
                    added_at=entry.added_at,
                )
            )
            await session.flush()

    async def _apply_watchlist_op(
        self, session: AsyncSession, user_id: str, op: crdt.Operation
    ) -> None:
        await self._ensure_origin_add(session, user_id, op.content_id)
        key = (user_id, op.content_id)
        if op.type == crdt.WATCHLIST_ADD:
            if await session.get(WatchlistAddRecord, (*key, op.id)) is None:
                session.add(
                    WatchlistAddRecord(
                        user_id=user_id,
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
                    WatchlistHorizonRecord(user_id=user_id, content_id=op.content_id, hlc=op.hlc)
                )
            elif crdt.later(horizon.hlc, op.hlc):
                horizon.hlc = op.hlc
                session.add(horizon)
        else:
            for tag in sorted(op.observed_tags):
                if await session.get(WatchlistTombstoneRecord, (*key, tag)) is None:
                    session.add(
                        WatchlistTombstoneRecord(
                            user_id=user_id, content_id=op.content_id, tag=tag, operation_id=op.id
                        )
                    )
        await session.flush()

    async def _live_adds(
        self, session: AsyncSession, user_id: str, content_id: str
    ) -> list[WatchlistAddRecord]:
        """The adds of a title that no remove observed, oldest first."""
        adds = (
            await session.exec(
                select(WatchlistAddRecord)
                .where(WatchlistAddRecord.user_id == user_id)
                .where(WatchlistAddRecord.content_id == content_id)
                .order_by(col(WatchlistAddRecord.hlc), col(WatchlistAddRecord.tag))
            )
        ).all()
        if not adds:
            return []
        removed = set(
            (
                await session.exec(
                    select(WatchlistTombstoneRecord.tag)
                    .where(WatchlistTombstoneRecord.user_id == user_id)
                    .where(WatchlistTombstoneRecord.content_id == content_id)
                )
            ).all()
        )
        horizon = await session.get(WatchlistHorizonRecord, (user_id, content_id))
        tombstones = {(content_id, tag) for tag in removed}
        return [
            add
            for add in adds
            if crdt.is_live(
                add.tag,
                crdt.AddTag(content_id, add.hlc),
                tombstones,
                horizon.hlc if horizon else None,
            )
        ]

    async def _live_tags(self, session: AsyncSession, user_id: str, content_id: str) -> list[str]:
        return sorted(add.tag for add in await self._live_adds(session, user_id, content_id))

    async def _materialize(
        self,
        session: AsyncSession,
        pending: PendingEvents,
        user_id: str,
        device_id: str,
        content_id: str,
    ) -> None:
        """Bring the watchlist row of a title in line with the set (a function of its adds,
        tombstones and horizon, so the same whatever order they arrived in)."""
        live = await self._live_adds(session, user_id, content_id)
        tags = sorted(add.tag for add in live)
        entry = await session.get(WatchlistEntryRecord, (user_id, content_id))
        if live:
            added_at = min(as_utc(add.added_at) for add in live)
            if entry is not None:
                if list(entry.tags or []) != tags or as_utc(entry.added_at) != added_at:
                    entry.tags, entry.added_at = tags, added_at
                    session.add(entry)
                return
            session.add(
                WatchlistEntryRecord(
                    user_id=user_id, content_id=content_id, added_at=added_at, tags=tags
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
        device_id: str,
        op: crdt.Operation,
    ) -> None:
        register = await session.get(ProgressRegisterRecord, (user_id, op.content_id))
        if register is not None and not crdt.later(register.hlc, op.hlc):
            return
        if register is None:
            register = ProgressRegisterRecord(
                user_id=user_id, content_id=op.content_id, hlc=op.hlc, device_id=device_id
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
                "contentId": op.content_id,
                "deviceId": device_id,
                "sessionId": None,
                "positionSeconds": register.position_seconds,
                "durationSeconds": register.duration_seconds,
                "state": register.state,
            },
        )

    async def progress_registers(self, user_id: str) -> list[ProgressRegisterRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ProgressRegisterRecord)
                .where(ProgressRegisterRecord.user_id == user_id)
                .order_by(col(ProgressRegisterRecord.hlc).desc())
            )
            return list(result.all())

    # ------------------------------------------------------------ devices
    async def owned_device(self, user_id: str, device_id: str) -> DeviceRecord:
        """The caller's device; FORBIDDEN for any other (existing or not)."""
        async with self.database.session() as session:
            device = await session.get(DeviceRecord, device_id)
        if device is None or device.user_id != user_id:
            raise SyncError("This is not one of your devices.", "FORBIDDEN")
        return device

    async def device_connected(self, user_id: str, device_id: str) -> None:
        self._connections[device_id] = self._connections.get(device_id, 0) + 1
        if self._connections[device_id] == 1:
            await self._set_presence(user_id, device_id, True)

    async def device_disconnected(self, user_id: str, device_id: str) -> None:
        left = self._connections.get(device_id, 0) - 1
        if left > 0:
            self._connections[device_id] = left
            return
        self._connections.pop(device_id, None)
        await self._set_presence(user_id, device_id, False)

    async def _set_presence(self, user_id: str, device_id: str, online: bool) -> None:
        pending = PendingEvents()
        now = utcnow()
        async with self.database.transaction() as session:
            device = await session.get(DeviceRecord, device_id)
            if device is None or device.user_id != user_id:
                return
            device.online = online
            device.last_seen_at = now
            session.add(device)
            await self.realtime.record(
                session,
                pending,
                user_id=user_id,
                kind=KIND_PRESENCE,
                device_id=device_id,
                ttl_seconds=PRESENCE_TTL_SECONDS,
                payload={
                    "deviceId": device_id,
                    "online": online,
                    "lastSeenAt": now.isoformat(),
                },
            )
        await self.realtime.publish(pending)

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
