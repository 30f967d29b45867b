"""Each profile's replicated playback progress: a last-writer-wins register per title,
ordered by hybrid logical clocks (see ``crdt.py``), whose changes reach the account's other
devices as real-time events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.realtime import PendingEvents, Realtime
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.sync import crdt
from media_gateway.subgraphs.sync.models import ProgressRegisterRecord

KIND_PROGRESS = "progress"
PROGRESS_STATES = ("PLAYING", "PAUSED", "BUFFERING", "ENDED")
PROGRESS_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ProgressRegister:
    """A profile's replicated position in a title: the write latest by the clock."""

    user_id: str
    profile_id: str
    content_id: str
    hlc: str
    position_seconds: int
    duration_seconds: int | None
    state: str
    device_id: str
    updated_at: datetime

    @classmethod
    def of(cls, record: ProgressRegisterRecord) -> ProgressRegister:
        return cls(
            user_id=record.user_id,
            profile_id=record.profile_id,
            content_id=record.content_id,
            hlc=record.hlc,
            position_seconds=record.position_seconds,
            duration_seconds=record.duration_seconds,
            state=record.state,
            device_id=record.device_id,
            updated_at=as_utc(record.updated_at),
        )


class ProgressService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def registers(
        self, user_id: str, *, profile_id: str = DEFAULT_PROFILE
    ) -> list[ProgressRegister]:
        """The profile's progress per title, the latest write first."""
        async with self.database.session() as session:
            result = await session.exec(
                select(ProgressRegisterRecord)
                .where(
                    ProgressRegisterRecord.user_id == user_id,
                    ProgressRegisterRecord.profile_id == profile_id,
                )
                .order_by(col(ProgressRegisterRecord.hlc).desc())
            )
            return [ProgressRegister.of(r) for r in result.all()]


async def apply_progress(
    session: AsyncSession,
    pending: PendingEvents,
    realtime: Realtime,
    user_id: str,
    profile_id: str,
    device_id: str,
    op: crdt.Operation,
) -> None:
    """Write a progress operation to its register if it is the latest by the clock, with its
    real-time event, in the session's transaction."""
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
    await realtime.record(
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
