"""The sync subgraph's per-request context."""

from __future__ import annotations

from dataclasses import dataclass

from media_gateway.dataloaders.sync import SyncLoaders
from media_gateway.schema.context import RequestContext
from media_gateway.subgraphs.sync.service import SyncService


@dataclass
class SyncContext(RequestContext):
    service: SyncService
    loaders: SyncLoaders
