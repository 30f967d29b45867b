"""Playback storage: sessions, per-title progress, watch history and the event outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from media_gateway.auth.profiles import DEFAULT_PROFILE, PROFILE_ID_LENGTH
from media_gateway.storage.types import new_id, timestamp_field


class PlaybackSessionRecord(SQLModel, table=True):
    __tablename__ = "playback_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=64)
    # the profile that started it: its progress and history are that profile's
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(index=True, max_length=160)
    device_id: str = Field(max_length=64)
    state: str = Field(default="PLAYING", max_length=16)  # PLAYING | PAUSED | BUFFERING | ENDED
    position_seconds: int = 0
    duration_seconds: int | None = None
    resume_from_seconds: int = 0
    started_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    ended_at: datetime | None = timestamp_field(nullable=True)


class ProgressRecord(SQLModel, table=True):
    """The latest position of a profile in a title: the source of ``continueWatching``."""

    __tablename__ = "playback_progress"

    user_id: str = Field(primary_key=True, max_length=64)
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        primary_key=True,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(primary_key=True, max_length=160)
    position_seconds: int = 0
    duration_seconds: int | None = None
    completed: bool = False
    updated_at: datetime = timestamp_field(index=True)


class WatchEventRecord(SQLModel, table=True):
    """One entry of a profile's watch history (a viewing that ended or was rated)."""

    __tablename__ = "playback_watch_history"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True, max_length=64)
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(index=True, max_length=160)
    watched_at: datetime = timestamp_field(index=True)
    position_seconds: int = 0
    duration_seconds: int | None = None
    completed: bool = False
    rating: float | None = None
    source: str = Field(default="playback", max_length=24)  # playback | import | demo


class OutboxEventRecord(SQLModel, table=True):
    """Events written in the same transaction as the change they describe."""

    __tablename__ = "playback_outbox"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=80, index=True)
    key: str = Field(max_length=160)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = timestamp_field()
    published_at: datetime | None = timestamp_field(nullable=True, index=True)
