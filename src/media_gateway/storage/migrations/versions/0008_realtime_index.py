"""Drop the per-user index on real-time events: the (user_id, seq) unique index serves every
query by user (its leading column) and each event insert kept one index fewer up to date.

Revision ID: 0008_realtime_index
Revises: 0007_device_connections
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_realtime_index"
down_revision: str | None = "0007_device_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_realtime_events_user_id", table_name="realtime_events")


def downgrade() -> None:
    op.create_index("ix_realtime_events_user_id", "realtime_events", ["user_id"])
