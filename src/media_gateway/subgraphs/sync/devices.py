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

# What a device can do, as stored; remote commands need some of them on the target device.
REMOTE_CONTROL = "remote-control"
VOLUME_CONTROL = "volume-control"
CAST_TARGET = "cast-target"
CAST_SOURCE = "cast-source"
UHD = "4k"
HDR = "hdr"
CAPABILITIES = (REMOTE_CONTROL, VOLUME_CONTROL, CAST_TARGET, CAST_SOURCE, UHD, HDR)
# What a device of each kind can do when it registers without saying: a TV, a console or a
# web player can be remote-controlled and cast to; phones and tablets are the remotes.
DEFAULT_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "TV": (REMOTE_CONTROL, VOLUME_CONTROL, CAST_TARGET),
    "CONSOLE": (REMOTE_CONTROL, VOLUME_CONTROL, CAST_TARGET),
    "WEB": (REMOTE_CONTROL, CAST_TARGET),
    "PHONE": (CAST_SOURCE,),
    "TABLET": (CAST_SOURCE,),
}


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
            # devices registered before capabilities were a closed set may hold other words
            capabilities=tuple(c for c in record.capabilities if c in CAPABILITIES),
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
        self, user_id: str, name: str, kind: str, capabilities: Sequence[str] | None = None
    ) -> RegisteredDevice:
        """Register a device; without `capabilities`, those of its kind
        (:data:`DEFAULT_CAPABILITIES`)."""
        name = name.strip()
        if not 1 <= len(name) <= 120:
            raise SyncError("Name the device with 1 to 120 characters.")
        if kind not in DEVICE_KINDS:
            raise SyncError(f"Unknown device kind {kind!r}.")
        if capabilities is None:
            capabilities = DEFAULT_CAPABILITIES[kind]
        unknown = sorted(set(capabilities) - set(CAPABILITIES))
        if unknown:
            raise SyncError(
                f"Unknown device capabilities: {', '.join(map(repr, unknown))} "
                f"(known: {', '.join(CAPABILITIES)})."
            )
        cleaned = sorted(set(capabilities))
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
