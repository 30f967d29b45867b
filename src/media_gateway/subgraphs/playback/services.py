"""The playback services of one process, made together."""

from __future__ import annotations

from dataclasses import dataclass

from media_gateway.realtime import Realtime
from media_gateway.storage.database import Database
from media_gateway.subgraphs.playback.history import HistoryService
from media_gateway.subgraphs.playback.outbox import OutboxRelay
from media_gateway.subgraphs.playback.sessions import SessionService


@dataclass(frozen=True)
class PlaybackServices:
    database: Database
    realtime: Realtime | None
    sessions: SessionService
    history: HistoryService
    outbox: OutboxRelay

    @classmethod
    def create(cls, database: Database, realtime: Realtime | None = None) -> PlaybackServices:
        return cls(
            database=database,
            realtime=realtime,
            sessions=SessionService(database, realtime),
            history=HistoryService(database),
            outbox=OutboxRelay(database),
        )
