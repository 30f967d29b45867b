"""Search analytics, synonyms and experiment control.

Searches and the playbacks started from them (click-through), editors' synonyms and accepted
rewrites; recommendation experiments get a lifecycle (draft, running, stopped, concluded).
Experiments that existed before are running when active, stopped otherwise.

Revision ID: 0016_search_analytics
Revises: 0015_catalog_editing
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0016_search_analytics"
down_revision: str | None = "0015_catalog_editing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "catalog_search_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("query", sa.String(length=200), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("viewer_id", sa.String(length=64), nullable=True),
        sa.Column("result_count", sa.Integer(), nullable=False),
        _timestamp("searched_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_catalog_search_events_query_time", "catalog_search_events", ["query", "searched_at"]
    )
    for column in ("region", "viewer_id", "searched_at"):
        op.create_index(f"ix_catalog_search_events_{column}", "catalog_search_events", [column])
    op.create_table(
        "catalog_search_plays",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("search_id", sa.String(length=32), nullable=False),
        sa.Column("viewer_id", sa.String(length=64), nullable=False),
        sa.Column("content_id", sa.String(length=160), nullable=False),
        _timestamp("played_at"),
        sa.PrimaryKeyConstraint("session_id"),
    )
    for column in ("search_id", "played_at"):
        op.create_index(f"ix_catalog_search_plays_{column}", "catalog_search_plays", [column])
    op.create_table(
        "catalog_search_synonyms",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("replacement", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "term", name="uq_catalog_search_synonyms"),
    )
    with op.batch_alter_table("recommendations_experiments") as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="draft")
        )
        batch_op.add_column(_timestamp("started_at", nullable=True))
        batch_op.add_column(_timestamp("stopped_at", nullable=True))
        batch_op.add_column(_timestamp("concluded_at", nullable=True))
        batch_op.add_column(sa.Column("winner", sa.String(length=64), nullable=True))
    experiments = sa.table(
        "recommendations_experiments",
        sa.column("active", sa.Boolean()),
        sa.column("state", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("started_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        experiments.update().values(
            state=sa.case((experiments.c.active.is_(True), "running"), else_="stopped"),
            started_at=experiments.c.created_at,
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("recommendations_experiments") as batch_op:
        for column in ("winner", "concluded_at", "stopped_at", "started_at", "state"):
            batch_op.drop_column(column)
    op.drop_table("catalog_search_synonyms")
    for column in ("played_at", "search_id"):
        op.drop_index(f"ix_catalog_search_plays_{column}", table_name="catalog_search_plays")
    op.drop_table("catalog_search_plays")
    for column in ("searched_at", "viewer_id", "region"):
        op.drop_index(f"ix_catalog_search_events_{column}", table_name="catalog_search_events")
    op.drop_index("ix_catalog_search_events_query_time", table_name="catalog_search_events")
    op.drop_table("catalog_search_events")
