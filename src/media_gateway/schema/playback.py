"""Playback types: sessions and progress; extends ``User`` and ``Content``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry

from media_gateway.auth.profiles import profile_of
from media_gateway.dataloaders.playback import PlaybackLoaders
from media_gateway.realtime import Realtime
from media_gateway.schema import references
from media_gateway.schema.common import PageInfo, clamp_first, decode_cursor, encode_cursor
from media_gateway.schema.context import RequestContext, require_viewer
from media_gateway.subgraphs.playback.history import HistoryService, ResumePosition, Viewing
from media_gateway.subgraphs.playback.resume import resume_point
from media_gateway.subgraphs.playback.sessions import Playback, SessionService


@dataclass
class PlaybackContext(RequestContext):
    """What playback's resolvers reach per request: its services and the loaders."""

    realtime: Realtime | None
    sessions: SessionService
    history: HistoryService
    loaders: PlaybackLoaders


Info = strawberry.Info[PlaybackContext, None]
# the active profile's progress and history (``@requiresScopes``)
READ = [["playback:read"]]


@strawberry.enum
class PlaybackState(Enum):
    PLAYING = "PLAYING"
    PAUSED = "PAUSED"
    BUFFERING = "BUFFERING"
    ENDED = "ENDED"


@strawberry.federation.interface_object(keys=["id"], description="A title (owned by the catalog).")
class Content:
    id: strawberry.ID

    @strawberry.federation.field(
        requires_scopes=READ, description="The signed-in viewer's progress in this title, if any."
    )
    async def viewer_progress(self, info: Info) -> PlaybackProgress | None:
        if info.context.viewer is None:
            return None
        record = await info.context.loaders.viewer_progress.load(str(self.id))
        return PlaybackProgress.from_record(record) if record else None

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Content:
        return cls(id=id)


@strawberry.type(description="How far a viewer got in a title.")
class PlaybackProgress:
    content: Content | None
    position_seconds: int
    duration_seconds: int | None
    completed: bool
    updated_at: datetime

    @strawberry.field(description="Where playback resumes (0: from the start).")
    def resume_from_seconds(self) -> int:
        return resume_point(self.position_seconds, self.duration_seconds, self.completed)

    @strawberry.field(description="Share watched, 0 to 1 (null when the duration is unknown).")
    def progress(self) -> float | None:
        if not self.duration_seconds:
            return None
        return round(min(1.0, self.position_seconds / self.duration_seconds), 4)

    @classmethod
    def from_record(cls, record: ResumePosition) -> PlaybackProgress:
        return cls(
            content=Content(id=strawberry.ID(record.content_id)),
            position_seconds=record.position_seconds,
            duration_seconds=record.duration_seconds,
            completed=record.completed,
            updated_at=record.updated_at,
        )


@strawberry.type(description="One playback of a title on a device.")
class PlaybackSession:
    id: strawberry.ID
    content: Content
    device_id: str
    state: PlaybackState
    position_seconds: int
    duration_seconds: int | None
    resume_from_seconds: int = strawberry.field(
        description="Where the player should start (0 under 30 s watched or past 95%)."
    )
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None

    @classmethod
    def from_record(cls, record: Playback) -> PlaybackSession:
        return cls(
            id=strawberry.ID(record.id),
            content=Content(id=strawberry.ID(record.content_id)),
            device_id=record.device_id,
            state=PlaybackState(record.state),
            position_seconds=record.position_seconds,
            duration_seconds=record.duration_seconds,
            resume_from_seconds=record.resume_from_seconds,
            started_at=record.started_at,
            updated_at=record.updated_at,
            ended_at=record.ended_at,
        )


@strawberry.type(description="Playback progress reported by one of the viewer's devices.")
class PlaybackProgressEvent:
    cursor: str = strawberry.field(description="Pass as `since` to resume after this event.")
    content: Content
    device_id: strawberry.ID
    session_id: strawberry.ID | None
    position_seconds: int
    duration_seconds: int | None
    state: PlaybackState
    hlc: str = strawberry.field(description="Hybrid logical clock timestamp of the report.")
    occurred_at: datetime

    @strawberry.field(description="Where another device should resume (0: from the start).")
    def resume_from_seconds(self) -> int:
        return resume_point(
            self.position_seconds, self.duration_seconds, self.state == PlaybackState.ENDED
        )

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> PlaybackProgressEvent:
        p = message["payload"]
        state = p.get("state") or "PAUSED"
        return cls(
            cursor=str(message["id"]),
            content=Content(id=strawberry.ID(p["contentId"])),
            device_id=strawberry.ID(p["deviceId"]),
            session_id=strawberry.ID(p["sessionId"]) if p.get("sessionId") else None,
            position_seconds=int(p.get("positionSeconds") or 0),
            duration_seconds=p.get("durationSeconds"),
            state=PlaybackState(state if state in PlaybackState.__members__ else "PAUSED"),
            hlc=message["hlc"],
            occurred_at=datetime.fromtimestamp(float(message["createdAt"]), UTC),
        )


@strawberry.type(description="A title the viewer watched.")
class WatchHistoryEntry:
    content: Content | None
    watched_at: datetime
    position_seconds: int
    duration_seconds: int | None
    completed: bool

    @classmethod
    def from_record(cls, record: Viewing) -> WatchHistoryEntry:
        return cls(
            content=Content(id=strawberry.ID(record.content_id)),
            watched_at=record.watched_at,
            position_seconds=record.position_seconds,
            duration_seconds=record.duration_seconds,
            completed=record.completed,
        )


@strawberry.type
class WatchHistoryEdge:
    cursor: str
    node: WatchHistoryEntry


@strawberry.type
class WatchHistoryConnection:
    edges: list[WatchHistoryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.federation.type(keys=["id"], description="A member account (owned by identity).")
class User:
    id: strawberry.ID

    @strawberry.federation.field(
        requires_scopes=READ,
        description="Titles the active profile started and did not finish, most recent first.",
    )
    async def continue_watching(
        self, info: Info, first: int | None = 20
    ) -> list[PlaybackProgress] | None:
        user_id = require_viewer(info.context, str(self.id))
        rows = await info.context.history.continue_watching(
            user_id, clamp_first(first), profile_id=profile_of(info.context.viewer)
        )
        shown = await references.titles(info.context.database).visible(
            [r.content_id for r in rows], info.context.viewer
        )
        return [PlaybackProgress.from_record(r) for r in rows if r.content_id in shown]

    @strawberry.federation.field(
        requires_scopes=READ, description="What the active profile watched, most recent first."
    )
    async def watch_history(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> WatchHistoryConnection | None:
        user_id = require_viewer(info.context, str(self.id))
        offset = decode_cursor(after)
        page = await info.context.history.history(
            user_id, clamp_first(first), offset, profile_id=profile_of(info.context.viewer)
        )
        shown = await references.titles(info.context.database).visible(
            [r.content_id for r in page.items], info.context.viewer
        )
        edges = [
            WatchHistoryEdge(
                cursor=encode_cursor(offset + i), node=WatchHistoryEntry.from_record(r)
            )
            for i, r in enumerate(page.items)
            if r.content_id in shown
        ]
        return WatchHistoryConnection(
            edges=edges,
            total_count=page.total_count,
            page_info=PageInfo(
                has_next_page=offset + len(edges) < page.total_count,
                has_previous_page=offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.federation.field(
        requires_scopes=[["accounts:support"]],
        description="Operators (a member's data export): what every profile of the account "
        "watched, most recent first.",
    )
    async def admin_watch_history(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> WatchHistoryConnection | None:
        offset = decode_cursor(after)
        page = await info.context.history.history(
            str(self.id), clamp_first(first, 100), offset, profile_id=None
        )
        edges = [
            WatchHistoryEdge(
                cursor=encode_cursor(offset + i), node=WatchHistoryEntry.from_record(r)
            )
            for i, r in enumerate(page.items)
        ]
        return WatchHistoryConnection(
            edges=edges,
            total_count=page.total_count,
            page_info=PageInfo(
                has_next_page=offset + len(edges) < page.total_count,
                has_previous_page=offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)
