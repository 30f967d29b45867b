"""Schema of identity (accounts, MFA, API keys, profiles, device grants).

Revision ID: 0002_identity
Revises: 0001_initial
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_identity"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("identity_users", schema=None) as batch_op:
        batch_op.add_column(_timestamp("email_verified_at"))
        batch_op.add_column(sa.Column("totp_pending_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(_timestamp("password_changed_at"))

    with op.batch_alter_table("identity_refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("profile_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("scopes", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("client_id", sa.String(length=100), nullable=True))

    op.create_table(
        "identity_profiles",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("avatar_url", sa.String(length=500), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("kids", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("max_content_rating", sa.String(length=10), nullable=True),
        _timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["identity_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_profiles_user_id", "identity_profiles", ["user_id"])

    op.create_table(
        "identity_backup_codes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        _timestamp("used_at"),
        _timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["identity_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_backup_codes_user_id", "identity_backup_codes", ["user_id"])

    op.create_table(
        "identity_api_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("scopes", sa.String(length=1000), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("expires_at"),
        _timestamp("revoked_at"),
        sa.ForeignKeyConstraint(["user_id"], ["identity_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_api_keys_user_id", "identity_api_keys", ["user_id"])
    op.create_index("ix_identity_api_keys_key_hash", "identity_api_keys", ["key_hash"], unique=True)

    op.create_table(
        "identity_oauth_clients",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("redirect_uris", sa.String(length=4000), nullable=False),
        _timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["identity_users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_oauth_clients_owner_id", "identity_oauth_clients", ["owner_id"])

    op.create_table(
        "identity_short_codes",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _timestamp("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_identity_short_codes_expires_at", "identity_short_codes", ["expires_at"])

    op.create_table(
        "identity_email_outbox",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("sent_at"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_email_outbox_recipient", "identity_email_outbox", ["recipient"])


def downgrade() -> None:
    op.drop_index("ix_identity_email_outbox_recipient", table_name="identity_email_outbox")
    op.drop_table("identity_email_outbox")
    op.drop_index("ix_identity_short_codes_expires_at", table_name="identity_short_codes")
    op.drop_table("identity_short_codes")
    op.drop_index("ix_identity_oauth_clients_owner_id", table_name="identity_oauth_clients")
    op.drop_table("identity_oauth_clients")
    op.drop_index("ix_identity_api_keys_key_hash", table_name="identity_api_keys")
    op.drop_index("ix_identity_api_keys_user_id", table_name="identity_api_keys")
    op.drop_table("identity_api_keys")
    op.drop_index("ix_identity_backup_codes_user_id", table_name="identity_backup_codes")
    op.drop_table("identity_backup_codes")
    op.drop_index("ix_identity_profiles_user_id", table_name="identity_profiles")
    op.drop_table("identity_profiles")
    with op.batch_alter_table("identity_refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("client_id")
        batch_op.drop_column("scopes")
        batch_op.drop_column("profile_id")
    with op.batch_alter_table("identity_users", schema=None) as batch_op:
        batch_op.drop_column("password_changed_at")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_pending_secret")
        batch_op.drop_column("email_verified_at")
