"""The sync services of one process, made together (they share the database, the real-time
log and the device checks)."""

from __future__ import annotations

from dataclasses import dataclass

from media_gateway.realtime import Realtime
from media_gateway.storage.database import Database
from media_gateway.subgraphs.sync.commands import CommandService
from media_gateway.subgraphs.sync.devices import DeviceService
from media_gateway.subgraphs.sync.presence import (
    HEARTBEAT_SECONDS,
    LEASE_SECONDS,
    PresenceService,
)
from media_gateway.subgraphs.sync.progress import ProgressService
from media_gateway.subgraphs.sync.replication import ReplicationService
from media_gateway.subgraphs.sync.watchlist import WatchlistService


@dataclass(frozen=True)
class SyncServices:
    database: Database
    realtime: Realtime
    devices: DeviceService
    watchlist: WatchlistService
    progress: ProgressService
    replication: ReplicationService
    presence: PresenceService
    commands: CommandService

    @classmethod
    def create(
        cls,
        database: Database,
        realtime: Realtime,
        *,
        lease_seconds: float = LEASE_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> SyncServices:
        devices = DeviceService(database)
        replication = ReplicationService(database, realtime, devices)
        return cls(
            database=database,
            realtime=realtime,
            devices=devices,
            watchlist=WatchlistService(database, realtime, replication),
            progress=ProgressService(database),
            replication=replication,
            presence=PresenceService(
                database,
                realtime,
                lease_seconds=lease_seconds,
                heartbeat_seconds=heartbeat_seconds,
            ),
            commands=CommandService(realtime, devices),
        )
