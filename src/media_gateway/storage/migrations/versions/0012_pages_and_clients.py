"""Pages, sign-in and consent; the built-in clients: an OAuth client is confidential (with a
secret, kept as its SHA-256), public or device (no redirect URI). Existing clients are
public.

Revision ID: 0012_pages_and_clients
Revises: 0011_oauth_resources
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_pages_and_clients"
down_revision: str | None = "0011_oauth_resources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_oauth_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="public")
        )
        batch_op.add_column(sa.Column("secret_hash", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_oauth_clients", schema=None) as batch_op:
        batch_op.drop_column("secret_hash")
        batch_op.drop_column("kind")
