"""Sync storage: devices, the watchlist and the replicated state behind them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from media_gateway.auth.profiles import DEFAULT_PROFILE, PROFILE_ID_LENGTH
from media_gateway.storage.types import new_id, timestamp_field


class DeviceRecord(SQLModel, table=True):
    __tablename__ = "sync_devices"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=16)  # PHONE | TABLET | TV | WEB | CONSOLE
    capabilities: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    registered_at: datetime = timestamp_field()
    last_seen_at: datetime = timestamp_field()
    online: bool = Field(default=False)


class DeviceConnectionRecord(SQLModel, table=True):
    """One live remote-command subscription of a device: a lease its process renews.

    A device is online while it has a connection whose lease has not expired, whichever
    process holds it; a process that dies stops renewing, and a sweeper of any process
    then takes the device offline once the lease has run out."""

    __tablename__ = "sync_device_connections"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    user_id: str = Field(max_length=64)
    device_id: str = Field(index=True, max_length=64)
    expires_at: datetime = timestamp_field(index=True)
    opened_at: datetime = timestamp_field()


class WatchlistEntryRecord(SQLModel, table=True):
    """A title on a profile's watchlist (the materialised view of the replicated set)."""

    __tablename__ = "sync_watchlist"

    user_id: str = Field(primary_key=True, max_length=64)
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        primary_key=True,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(primary_key=True, max_length=160)
    added_at: datetime = timestamp_field(index=True)
    # the live add tags keeping the title in the replicated set (what a remove observes)
    tags: list[str] = Field(default_factory=list, sa_type=sa.JSON)


class AppliedOperationRecord(SQLModel, table=True):
    """Operations already applied, per account (operation ids are unique whichever profile
    sent them): replaying one again changes nothing."""

    __tablename__ = "sync_applied_operations"

    user_id: str = Field(primary_key=True, max_length=64)
    operation_id: str = Field(primary_key=True, max_length=128)
    device_id: str = Field(max_length=64)
    type: str = Field(max_length=24)
    applied_at: datetime = timestamp_field()


class WatchlistAddRecord(SQLModel, table=True):
    """One add of the observed-remove watchlist set, tagged with its operation id."""

    __tablename__ = "sync_watchlist_adds"

    user_id: str = Field(primary_key=True, max_length=64)
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        primary_key=True,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(primary_key=True, max_length=160)
    tag: str = Field(primary_key=True, max_length=128)
    hlc: str = Field(max_length=96)
    device_id: str = Field(default="", max_length=64)
    added_at: datetime = timestamp_field()


class WatchlistTombstoneRecord(SQLModel, table=True):
    """A tag of a title that a remove observed; it may arrive before the add it removes."""

    __tablename__ = "sync_watchlist_tombstones"

    user_id: str = Field(primary_key=True, max_length=64)
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        primary_key=True,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(primary_key=True, max_length=160)
    tag: str = Field(primary_key=True, max_length=128)
    operation_id: str = Field(max_length=128)


class WatchlistHorizonRecord(SQLModel, table=True):
    """Per title, the latest remove that did not list its observed tags: it removes every
    add ordered before it by the clock."""

    __tablename__ = "sync_watchlist_horizons"

    user_id: str = Field(primary_key=True, max_length=64)
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        primary_key=True,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(primary_key=True, max_length=160)
    hlc: str = Field(max_length=96)


class ProgressRegisterRecord(SQLModel, table=True):
    """Per profile and title, the last-writer-wins playback position."""

    __tablename__ = "sync_progress_registers"

    user_id: str = Field(primary_key=True, max_length=64)
    profile_id: str = Field(
        default=DEFAULT_PROFILE,
        primary_key=True,
        max_length=PROFILE_ID_LENGTH,
        sa_column_kwargs={"server_default": DEFAULT_PROFILE},
    )
    content_id: str = Field(primary_key=True, max_length=160)
    hlc: str = Field(max_length=96)
    position_seconds: int = 0
    duration_seconds: int | None = None
    state: str = Field(default="PAUSED", max_length=16)
    device_id: str = Field(max_length=64)
    updated_at: datetime = timestamp_field()


__all__ = [
    "AppliedOperationRecord",
    "DeviceConnectionRecord",
    "DeviceRecord",
    "ProgressRegisterRecord",
    "WatchlistAddRecord",
    "WatchlistEntryRecord",
    "WatchlistHorizonRecord",
    "WatchlistTombstoneRecord",
]
