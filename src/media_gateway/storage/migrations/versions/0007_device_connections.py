"""Device presence by leases: one row per live remote-command subscription.

A device is online while one of its connections has an unexpired lease (renewed by the
process holding it), so a crashed process no longer leaves its devices online forever and
a disconnect on one instance no longer hides a connection held by another.

Devices marked online before this migration have no connection: the first sweep takes
them offline (a device still connected comes back with its next subscription).

Revision ID: 0007_device_connections
Revises: 0006_realtime_sequence
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_device_connections"
down_revision: str | None = "0006_realtime_sequence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sync_device_connections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        _timestamp("expires_at"),
        _timestamp("opened_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_device_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_device_connections_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sync_device_connections_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_device_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_device_connections_expires_at"))
        batch_op.drop_index(batch_op.f("ix_sync_device_connections_device_id"))
    op.drop_table("sync_device_connections")
