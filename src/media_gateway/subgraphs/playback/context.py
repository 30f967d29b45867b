"""The playback subgraph's per-request context."""

from __future__ import annotations

from dataclasses import dataclass

from media_gateway.dataloaders.playback import PlaybackLoaders
from media_gateway.schema.context import RequestContext
from media_gateway.subgraphs.playback.service import PlaybackService


@dataclass
class PlaybackContext(RequestContext):
    service: PlaybackService
    loaders: PlaybackLoaders
