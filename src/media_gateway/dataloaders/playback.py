"""Playback loaders: the viewer's progress per title (the active profile's)."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.auth.profiles import profile_of
from media_gateway.auth.tokens import Claims
from media_gateway.dataloaders import keyed_loader
from media_gateway.subgraphs.playback.history import HistoryService, ResumePosition


@dataclass
class PlaybackLoaders:
    viewer_progress: DataLoader[str, ResumePosition | None]

    @classmethod
    def create(cls, history: HistoryService, viewer: Claims | None) -> PlaybackLoaders:
        profile_id = profile_of(viewer)

        async def fetch(content_ids: list[str]) -> list[ResumePosition]:
            if viewer is None:
                return []
            return await history.progress_for(viewer.subject, content_ids, profile_id=profile_id)

        return cls(viewer_progress=keyed_loader(fetch, lambda r: r.content_id))
