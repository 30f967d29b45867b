"""Column helpers shared by every subgraph's models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def timestamp_field(*, nullable: bool = False, index: bool = False, **kwargs: Any) -> Any:
    """A timezone-aware timestamp column (UTC)."""
    if nullable:
        kwargs.setdefault("default", None)
    else:
        kwargs.setdefault("default_factory", utcnow)
    return Field(sa_type=sa.DateTime(timezone=True), nullable=nullable, index=index, **kwargs)
