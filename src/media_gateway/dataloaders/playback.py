"""Playback loaders: the viewer's progress per title."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.dataloaders import keyed_loader
from media_gateway.subgraphs.playback.models import ProgressRecord
from media_gateway.subgraphs.playback.service import PlaybackService


@dataclass
class PlaybackLoaders:
    viewer_progress: DataLoader[str, ProgressRecord | None]

    @classmethod
    def create(cls, service: PlaybackService, viewer_id: str | None) -> PlaybackLoaders:
        async def fetch(content_ids: list[str]) -> list[ProgressRecord]:
            if viewer_id is None:
                return []
            return await service.progress_for(viewer_id, content_ids)

        return cls(viewer_progress=keyed_loader(fetch, lambda r: r.content_id))
