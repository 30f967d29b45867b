"""Profiles own their data: the watchlist, its replicated state, progress, history and the
recommender's interactions are kept per viewing profile. Rows written before belong to the
account's default profile (the empty profile id, what a caller without a profile acts for).

Revision ID: 0010_profile_data
Revises: 0009_session_revocations
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_profile_data"
down_revision: str | None = "0009_session_revocations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_PROFILE = ""  # as ``media_gateway.auth.profiles.DEFAULT_PROFILE``

# tables keyed by the account: the profile joins their primary key, after the account
REKEYED: dict[str, tuple[str, ...]] = {
    "sync_watchlist": ("content_id",),
    "sync_watchlist_adds": ("content_id", "tag"),
    "sync_watchlist_tombstones": ("content_id", "tag"),
    "sync_watchlist_horizons": ("content_id",),
    "sync_progress_registers": ("content_id",),
    "playback_progress": ("content_id",),
}
# tables with a row id: the profile is one more column
EXTENDED = ("playback_sessions", "playback_watch_history", "recommendations_interactions")


def _profile_column() -> sa.Column:
    return sa.Column(
        "profile_id", sa.String(length=64), nullable=False, server_default=DEFAULT_PROFILE
    )


def _set_primary_key(table: str, columns: list[str], add_profile: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":  # SQLite changes a primary key by copying the table
        # the table as it is, its key named so that the copy can leave it out
        existing = sa.Table(table, sa.MetaData(), autoload_with=bind)
        existing.primary_key.name = "previous_pkey"
        with op.batch_alter_table(table, recreate="always", copy_from=existing) as batch_op:
            batch_op.drop_constraint("previous_pkey", type_="primary")
            if add_profile:
                batch_op.add_column(_profile_column())
            batch_op.create_primary_key(f"{table}_pkey", columns)
        return
    current = sa.inspect(bind).get_pk_constraint(table).get("name") or f"{table}_pkey"
    if add_profile:
        op.add_column(table, _profile_column())
    op.drop_constraint(current, table, type_="primary")
    op.create_primary_key(f"{table}_pkey", table, columns)


def upgrade() -> None:
    for table, rest in REKEYED.items():
        _set_primary_key(table, ["user_id", "profile_id", *rest], add_profile=True)
    for table in EXTENDED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(_profile_column())


def downgrade() -> None:
    for table in reversed(EXTENDED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("profile_id")
    for table, rest in REKEYED.items():
        # only the default profile's rows fit the account's key again
        op.execute(
            sa.text(f"DELETE FROM {table} WHERE profile_id != :default").bindparams(
                default=DEFAULT_PROFILE
            )
        )
        _set_primary_key(table, ["user_id", *rest], add_profile=False)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("profile_id")
