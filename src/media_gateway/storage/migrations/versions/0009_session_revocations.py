"""Revoked sessions: access tokens name their session (``sid``); a session ended before its
tokens expire gets a numbered row that every service reads, so its tokens stop at once.

Revision ID: 0009_session_revocations
Revises: 0008_realtime_index
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_session_revocations"
down_revision: str | None = "0008_realtime_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_session_revocations",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("identity_session_revocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_session_revocations_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_session_revocations_expires_at"), ["expires_at"], unique=False
        )
    op.create_table(
        "identity_revocation_sequence",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("identity_revocation_sequence")
    with op.batch_alter_table("identity_session_revocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_session_revocations_expires_at"))
        batch_op.drop_index(batch_op.f("ix_identity_session_revocations_session_id"))
    op.drop_table("identity_session_revocations")
