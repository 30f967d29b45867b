"""OAuth for agents: a session remembers the resources (RFC 8707) its tokens are bound to,
so that a refresh keeps the audience; clients that registered themselves (RFC 7591) have no
owning account.

Revision ID: 0011_oauth_resources
Revises: 0010_profile_data
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_oauth_resources"
down_revision: str | None = "0010_profile_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resources", sa.String(length=1000), nullable=True))
    with op.batch_alter_table("identity_oauth_clients", schema=None) as batch_op:
        batch_op.alter_column("owner_id", existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM identity_oauth_clients WHERE owner_id IS NULL")
    with op.batch_alter_table("identity_oauth_clients", schema=None) as batch_op:
        batch_op.alter_column("owner_id", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("identity_refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("resources")
