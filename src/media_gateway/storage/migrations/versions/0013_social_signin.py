"""Social sign-in through OpenID Connect: linked identities.

Revision ID: 0013_social_signin
Revises: 0012_pages_and_clients
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_social_signin"
down_revision: str | None = "0012_pages_and_clients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_social_identities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["identity_users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "subject", name="uq_identity_social_provider_subject"),
    )
    op.create_index(
        "ix_identity_social_identities_user_id", "identity_social_identities", ["user_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_identity_social_identities_user_id", "identity_social_identities")
    op.drop_table("identity_social_identities")
