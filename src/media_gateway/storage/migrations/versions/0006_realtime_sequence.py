"""Real-time events numbered per user in commit order (the catch-up cursor).

``realtime_events.seq`` replaces the autoincrement id as the cursor; ``realtime_cursors``
holds each user's last number (the row a writer locks to take the next ones).

Existing events keep their id as their number (unique and increasing per user), and every
user's counter starts at the highest id handed out, so every cursor handed out before this
migration stays valid: whatever is recorded after it numbers above it.

Revision ID: 0006_realtime_sequence
Revises: 0005_playback_sync
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_realtime_sequence"
down_revision: str | None = "0005_playback_sync"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _highest_event_id() -> int:
    """The highest event id handed out so far (as far as the database still knows)."""
    connection = op.get_bind()
    highest = int(
        connection.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM realtime_events")).scalar()
        or 0
    )
    if connection.dialect.name == "postgresql":
        # ids of events already pruned: the sequence behind the column remembers them
        issued = connection.execute(
            sa.text(
                "SELECT last_value FROM pg_sequences "
                "WHERE schemaname = current_schema() AND sequencename = 'realtime_events_id_seq'"
            )
        ).scalar()
        highest = max(highest, int(issued or 0))
    return highest


def upgrade() -> None:
    op.create_table(
        "realtime_cursors",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    with op.batch_alter_table("realtime_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    op.execute("UPDATE realtime_events SET seq = id")
    with op.batch_alter_table("realtime_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index("ix_realtime_events_user_id_seq", ["user_id", "seq"], unique=True)
    # every member who may hold a cursor (an id) gets a counter at the highest id handed
    # out, not at the highest id of their own events still kept: the cursor may be the id
    # of one of theirs already pruned
    highest = _highest_event_id()
    if highest > 0:
        op.execute(
            sa.text(
                "INSERT INTO realtime_cursors (user_id, last_seq) SELECT user_id, :highest "
                "FROM (SELECT user_id FROM realtime_events UNION SELECT id FROM identity_users) "
                "AS members"
            ).bindparams(highest=highest)
        )


def downgrade() -> None:
    with op.batch_alter_table("realtime_events", schema=None) as batch_op:
        batch_op.drop_index("ix_realtime_events_user_id_seq")
        batch_op.drop_column("seq")
    op.drop_table("realtime_cursors")
