"""The real-time event log: what subscribers receive, kept for catch-up after a gap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from media_gateway.storage.types import timestamp_field


class RealtimeEventRecord(SQLModel, table=True):
    """One event for one user's subscribers; ``seq`` is the catch-up cursor.

    ``seq`` numbers a user's events in the order their transactions committed (1, 2, 3...
    per user, from ``RealtimeCursorRecord``); it is assigned when the writer's transaction
    commits, so it is ``None`` on a record that has not been committed yet.
    """

    __tablename__ = "realtime_events"
    __table_args__ = (sa.Index("ix_realtime_events_user_id_seq", "user_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=64)  # queried through the (user_id, seq) index
    seq: int | None = Field(default=None, sa_type=sa.BigInteger, nullable=False)
    kind: str = Field(max_length=24)  # progress | command | watchlist | presence
    device_id: str | None = Field(default=None, max_length=64)
    hlc: str = Field(max_length=96)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(index=True)


class RealtimeCursorRecord(SQLModel, table=True):
    """A user's last event sequence number: the row writers of that user's events lock."""

    __tablename__ = "realtime_cursors"

    user_id: str = Field(primary_key=True, max_length=64)
    last_seq: int = Field(sa_type=sa.BigInteger)
