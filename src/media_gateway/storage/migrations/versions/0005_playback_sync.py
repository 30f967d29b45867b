"""Schema of playback and sync (CRDT state, devices, remote commands).

Revision ID: 0005_playback_sync
Revises: 0004_recommendations
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_playback_sync"
down_revision: str | None = "0004_recommendations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the tag of a title saved before the watchlist was a replicated set (as in sync's service)
ORIGIN_TAG = "origin"


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("sync_devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("online", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "sync_applied_operations",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("operation_id", sa.String(length=128), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        _timestamp("applied_at"),
        sa.PrimaryKeyConstraint("user_id", "operation_id"),
    )
    # the watchlist as an observed-remove set: tagged adds, removed tags, clock horizons;
    # sync_watchlist stays the materialised view (with the live tags of each title)
    with op.batch_alter_table("sync_watchlist", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tags", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    op.create_table(
        "sync_watchlist_adds",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("hlc", sa.String(length=96), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        _timestamp("added_at"),
        sa.PrimaryKeyConstraint("user_id", "content_id", "tag"),
    )
    op.create_table(
        "sync_watchlist_tombstones",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("operation_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "content_id", "tag"),
    )
    op.create_table(
        "sync_watchlist_horizons",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("hlc", sa.String(length=96), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "content_id"),
    )
    # titles saved before the set existed: one add at the origin of the clock each
    op.execute(
        "INSERT INTO sync_watchlist_adds (user_id, content_id, tag, hlc, device_id, added_at) "
        f"SELECT user_id, content_id, '{ORIGIN_TAG}', '', '', added_at FROM sync_watchlist"
    )
    op.execute(f"""UPDATE sync_watchlist SET tags = '["{ORIGIN_TAG}"]'""")
    op.create_table(
        "sync_progress_registers",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("hlc", sa.String(length=96), nullable=False),
        sa.Column("position_seconds", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("user_id", "content_id"),
    )
    op.create_table(
        "realtime_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("hlc", sa.String(length=96), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("realtime_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_realtime_events_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_realtime_events_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("realtime_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_events_expires_at"))
        batch_op.drop_index(batch_op.f("ix_realtime_events_user_id"))
    op.drop_table("realtime_events")
    op.drop_table("sync_progress_registers")
    op.drop_table("sync_watchlist_horizons")
    op.drop_table("sync_watchlist_tombstones")
    op.drop_table("sync_watchlist_adds")
    with op.batch_alter_table("sync_watchlist", schema=None) as batch_op:
        batch_op.drop_column("tags")
    op.drop_table("sync_applied_operations")
    with op.batch_alter_table("sync_devices", schema=None) as batch_op:
        batch_op.drop_column("online")
