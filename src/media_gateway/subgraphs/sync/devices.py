"""A member's devices: registering them and telling the owner's from anyone else's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc
from media_gateway.subgraphs.sync.errors import SyncError, not_your_device
from media_gateway.subgraphs.sync.models import DeviceRecord

DEVICE_KINDS = ("PHONE", "TABLET", "TV", "WEB", "CONSOLE")
MAX_DEVICES = 50


@dataclass(frozen=True)
class RegisteredDevice:
    id: str
    user_id: str
    name: str
    kind: str
    capabilities: tuple[str, ...]
    registered_at: datetime
    last_seen_at: datetime
    online: bool

    @classmethod
    def of(cls, record: DeviceRecord) -> RegisteredDevice:
        return cls(
            id=record.id,
            user_id=record.user_id,
            name=record.name,
            kind=record.kind,
            capabilities=tuple(record.capabilities),
            registered_at=as_utc(record.registered_at),
            last_seen_at=as_utc(record.last_seen_at),
            online=record.online,
        )


class DeviceService:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def devices(self, user_ids: Sequence[str]) -> list[RegisteredDevice]:
        async with self.database.session() as session:
            result = await session.exec(
                select(DeviceRecord)
                .where(col(DeviceRecord.user_id).in_(user_ids))
                .order_by(col(DeviceRecord.registered_at))
            )
            return [RegisteredDevice.of(r) for r in result.all()]

    async def owned_device(self, user_id: str, device_id: str) -> RegisteredDevice:
        """The caller's device; NOT_FOUND for any other (existing or not)."""
        async with self.database.session() as session:
            device = await session.get(DeviceRecord, device_id)
        if device is None or device.user_id != user_id:
            raise not_your_device()
        return RegisteredDevice.of(device)

    async def register_device(
        self, user_id: str, name: str, kind: str, capabilities: Sequence[str]
    ) -> RegisteredDevice:
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
        return RegisteredDevice.of(device)
