"""Initial schema of every subgraph (identity, catalog, playback, sync, recommendations).

Revision ID: 0001_initial
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_contents",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("title_search", sa.String(length=300), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("runtime_minutes", sa.Integer(), nullable=True),
        sa.Column("synopsis", sa.Text(), nullable=True),
        sa.Column("content_rating", sa.String(length=16), nullable=True),
        sa.Column("popularity", sa.Float(), nullable=False),
        sa.Column("parent_id", sa.String(length=160), nullable=True),
        sa.Column("season_number", sa.Integer(), nullable=True),
        sa.Column("episode_number", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["catalog_contents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_contents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_contents_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_catalog_contents_parent_id"), ["parent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalog_contents_popularity"), ["popularity"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalog_contents_title_search"), ["title_search"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_catalog_contents_year"), ["year"], unique=False)

    op.create_table(
        "identity_users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_users_email"), ["email"], unique=True)

    op.create_table(
        "playback_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("playback_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_playback_outbox_published_at"), ["published_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_playback_outbox_topic"), ["topic"], unique=False)

    op.create_table(
        "playback_progress",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("position_seconds", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "content_id"),
    )
    with op.batch_alter_table("playback_progress", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_playback_progress_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "playback_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("position_seconds", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("resume_from_seconds", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("playback_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_playback_sessions_content_id"), ["content_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_playback_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "playback_watch_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("watched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position_seconds", sa.Integer(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("playback_watch_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_playback_watch_history_content_id"), ["content_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_playback_watch_history_user_id"), ["user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_playback_watch_history_watched_at"), ["watched_at"], unique=False
        )

    op.create_table(
        "recommendations_interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recommendations_interactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recommendations_interactions_content_id"), ["content_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recommendations_interactions_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_recommendations_interactions_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "sync_devices",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sync_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_devices_user_id"), ["user_id"], unique=False)

    op.create_table(
        "sync_watchlist",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "content_id"),
    )
    with op.batch_alter_table("sync_watchlist", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_watchlist_added_at"), ["added_at"], unique=False)

    op.create_table(
        "catalog_availability",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("platform", sa.String(length=40), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("offer_type", sa.String(length=24), nullable=False),
        sa.Column("price", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("quality", sa.String(length=8), nullable=False),
        sa.Column("deep_link", sa.String(length=500), nullable=False),
        sa.Column("is_demo_data", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["catalog_contents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_availability", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_availability_content_id"), ["content_id"], unique=False
        )

    op.create_table(
        "catalog_content_genres",
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("genre", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["catalog_contents.id"],
        ),
        sa.PrimaryKeyConstraint("content_id", "genre"),
    )
    with op.batch_alter_table("catalog_content_genres", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_content_genres_genre"), ["genre"], unique=False
        )

    op.create_table(
        "identity_refresh_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("identity_refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_refresh_tokens_family_id"), ["family_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_refresh_tokens_token_hash"), ["token_hash"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_identity_refresh_tokens_user_id"), ["user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_refresh_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_identity_refresh_tokens_token_hash"))
        batch_op.drop_index(batch_op.f("ix_identity_refresh_tokens_family_id"))

    op.drop_table("identity_refresh_tokens")
    with op.batch_alter_table("catalog_content_genres", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_content_genres_genre"))

    op.drop_table("catalog_content_genres")
    with op.batch_alter_table("catalog_availability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_availability_content_id"))

    op.drop_table("catalog_availability")
    with op.batch_alter_table("sync_watchlist", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_watchlist_added_at"))

    op.drop_table("sync_watchlist")
    with op.batch_alter_table("sync_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_devices_user_id"))

    op.drop_table("sync_devices")
    with op.batch_alter_table("recommendations_interactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recommendations_interactions_user_id"))
        batch_op.drop_index(batch_op.f("ix_recommendations_interactions_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_recommendations_interactions_content_id"))

    op.drop_table("recommendations_interactions")
    with op.batch_alter_table("playback_watch_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playback_watch_history_watched_at"))
        batch_op.drop_index(batch_op.f("ix_playback_watch_history_user_id"))
        batch_op.drop_index(batch_op.f("ix_playback_watch_history_content_id"))

    op.drop_table("playback_watch_history")
    with op.batch_alter_table("playback_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playback_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_playback_sessions_content_id"))

    op.drop_table("playback_sessions")
    with op.batch_alter_table("playback_progress", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playback_progress_updated_at"))

    op.drop_table("playback_progress")
    with op.batch_alter_table("playback_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playback_outbox_topic"))
        batch_op.drop_index(batch_op.f("ix_playback_outbox_published_at"))

    op.drop_table("playback_outbox")
    with op.batch_alter_table("identity_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_users_email"))

    op.drop_table("identity_users")
    with op.batch_alter_table("catalog_contents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_contents_year"))
        batch_op.drop_index(batch_op.f("ix_catalog_contents_title_search"))
        batch_op.drop_index(batch_op.f("ix_catalog_contents_popularity"))
        batch_op.drop_index(batch_op.f("ix_catalog_contents_parent_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_contents_kind"))

    op.drop_table("catalog_contents")
