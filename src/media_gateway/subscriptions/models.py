"""The real-time event log: what subscribers receive, kept for catch-up after a gap."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from media_gateway.storage.types import timestamp_field


class RealtimeEventRecord(SQLModel, table=True):
    """One event for one user's subscribers; ``id`` is the catch-up cursor."""

    __tablename__ = "realtime_events"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=24)  # progress | command | watchlist | presence
    device_id: str | None = Field(default=None, max_length=64)
    hlc: str = Field(max_length=96)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(index=True)
