"""Sync loaders: watchlists per (account, profile) pair and devices per account."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.dataloaders import grouped_loader
from media_gateway.subgraphs.sync.devices import DeviceService, RegisteredDevice
from media_gateway.subgraphs.sync.watchlist import SavedTitle, WatchlistService


@dataclass
class SyncLoaders:
    watchlists: DataLoader[tuple[str, str], list[SavedTitle]]
    devices: DataLoader[str, list[RegisteredDevice]]

    @classmethod
    def create(cls, watchlist: WatchlistService, devices: DeviceService) -> SyncLoaders:
        return cls(
            watchlists=grouped_loader(watchlist.watchlists, lambda r: (r.user_id, r.profile_id)),
            devices=grouped_loader(devices.devices, lambda r: r.user_id),
        )
