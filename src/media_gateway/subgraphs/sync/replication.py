"""Replaying a device's offline queue into a profile's replicated state.

Every change to the watchlist or to progress is an operation (``crdt.Operation``) with a
unique id and a hybrid-logical-clock timestamp: a batch is applied in one transaction,
idempotent by operation id (the applied-operation log of the account) and independent of
order, with the real-time events it causes published once committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, delete

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.realtime import InvalidTimestamp, PendingEvents, Realtime, Timestamp
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.sync import crdt, watchlist_set
from media_gateway.subgraphs.sync.devices import DeviceService
from media_gateway.subgraphs.sync.errors import SyncError
from media_gateway.subgraphs.sync.models import AppliedOperationRecord
from media_gateway.subgraphs.sync.progress import PROGRESS_STATES, apply_progress

MAX_OPERATIONS = 500
# how old an offline operation may be (by its clock) and still be applied: what lets the
# server forget applied operation ids and removes that still wait for their add
MAX_OPERATION_AGE = timedelta(days=30)


@dataclass(frozen=True)
class SyncOutcome:
    applied: int
    duplicates: int
    hlc: str


class ReplicationService:
    def __init__(self, database: Database, realtime: Realtime, devices: DeviceService) -> None:
        self.database = database
        self.realtime = realtime
        self.devices = devices

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
        await self.devices.owned_device(user_id, device_id)
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
        """Apply operations already validated (or made by the server) in one transaction."""
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
                    await apply_progress(
                        session, pending, self.realtime, user_id, profile_id, device_id, op
                    )
                else:
                    await watchlist_set.apply(session, user_id, profile_id, op)
                    touched.add(op.content_id)
            for content_id in sorted(touched):
                await watchlist_set.materialize(
                    session, pending, self.realtime, user_id, profile_id, device_id, content_id
                )
        await self.realtime.publish(pending)
        return SyncOutcome(applied, duplicates, str(self.realtime.clock.tick()))

    async def prune_operations(self) -> int:
        """Forget applied operation ids, and removes still waiting for their add, once they
        are older than the replay window (anything that old is refused anyway); returns how
        many operation ids were forgotten."""
        cutoff = utcnow() - MAX_OPERATION_AGE - timedelta(days=1)
        async with self.database.transaction() as session:
            await watchlist_set.forget_waiting_removes(session, cutoff)
            result = await session.exec(
                delete(AppliedOperationRecord).where(
                    col(AppliedOperationRecord.applied_at) < cutoff
                )
            )
            return int(result.rowcount or 0)
