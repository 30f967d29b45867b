"""Remote commands: one of a member's devices asks another to play, pause, seek, stop, set
the volume or cast a title; the command travels as a real-time event that expires."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from media_gateway.realtime import Realtime
from media_gateway.storage.types import as_utc, new_id
from media_gateway.subgraphs.sync.devices import (
    CAST_TARGET,
    REMOTE_CONTROL,
    VOLUME_CONTROL,
    DeviceService,
)
from media_gateway.subgraphs.sync.errors import SyncError

KIND_COMMAND = "command"
COMMAND_TYPES = ("PLAY", "PAUSE", "SEEK", "STOP", "VOLUME", "CAST")
# what a target device must be able to do to receive each command
COMMAND_CAPABILITIES: dict[str, tuple[str, ...]] = {
    "PLAY": (REMOTE_CONTROL,),
    "PAUSE": (REMOTE_CONTROL,),
    "SEEK": (REMOTE_CONTROL,),
    "STOP": (REMOTE_CONTROL,),
    "VOLUME": (REMOTE_CONTROL, VOLUME_CONTROL),
    "CAST": (REMOTE_CONTROL, CAST_TARGET),
}
MIN_COMMAND_TTL, MAX_COMMAND_TTL = 1, 3600


@dataclass(frozen=True)
class RemoteCommandSpec:
    type: str
    position_seconds: int | None = None
    volume: int | None = None
    content_id: str | None = None


class CommandService:
    def __init__(self, realtime: Realtime, devices: DeviceService) -> None:
        self.realtime = realtime
        self.devices = devices

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
        target = await self.devices.owned_device(user_id, target_device_id)
        if from_device_id is not None:
            await self.devices.owned_device(user_id, from_device_id)
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
