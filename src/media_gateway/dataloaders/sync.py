"""Sync loaders: watchlists per (account, profile) pair and devices per account."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.dataloaders import grouped_loader
from media_gateway.subgraphs.sync.models import DeviceRecord, WatchlistEntryRecord
from media_gateway.subgraphs.sync.service import SyncService


@dataclass
class SyncLoaders:
    watchlists: DataLoader[tuple[str, str], list[WatchlistEntryRecord]]
    devices: DataLoader[str, list[DeviceRecord]]

    @classmethod
    def create(cls, service: SyncService) -> SyncLoaders:
        return cls(
            watchlists=grouped_loader(service.watchlists, lambda r: (r.user_id, r.profile_id)),
            devices=grouped_loader(service.devices, lambda r: r.user_id),
        )
