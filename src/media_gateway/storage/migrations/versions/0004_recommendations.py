"""Schema of recommendations (item features, model artifacts, experiments).

Revision ID: 0004_recommendations
Revises: 0003_catalog
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004_recommendations"
down_revision: str | None = "0003_catalog"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "recommendations_item_features",
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("genres", sa.String(length=500), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("runtime_minutes", sa.Integer(), nullable=True),
        sa.Column("content_rating", sa.String(length=16), nullable=True),
        sa.Column("regions", sa.String(length=1000), nullable=False),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("content_id"),
    )
    op.create_table(
        "recommendations_models",
        sa.Column("version", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        sa.Column("config", sa.Text(), nullable=False),
        sa.Column("items", sa.Text(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("interactions", sa.Integer(), nullable=False),
        sa.Column("train_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index(
        "ix_recommendations_models_created_at", "recommendations_models", ["created_at"]
    )
    op.create_table(
        "recommendations_experiments",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("variants", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_recommendations_experiments_active", "recommendations_experiments", ["active"]
    )
    for table in ("recommendations_exposures", "recommendations_outcomes"):
        columns: list[sa.Column[Any]] = [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("experiment_id", sa.String(length=64), nullable=False),
            sa.Column("variant", sa.String(length=64), nullable=False),
            sa.Column("user_id", sa.String(length=64), nullable=False),
            sa.Column("content_id", sa.String(length=160), nullable=False),
        ]
        if table == "recommendations_exposures":
            columns += [
                sa.Column("position", sa.Integer(), nullable=False),
                _timestamp("served_at"),
            ]
        else:
            columns += [sa.Column("kind", sa.String(length=16), nullable=False)]
            columns += [_timestamp("occurred_at")]
        op.create_table(table, *columns, sa.PrimaryKeyConstraint("id"))
        op.create_index(f"ix_{table}_experiment_id", table, ["experiment_id"])
        op.create_index(f"ix_{table}_user_id", table, ["user_id"])


def downgrade() -> None:
    for table in ("recommendations_outcomes", "recommendations_exposures"):
        op.drop_index(f"ix_{table}_user_id", table_name=table)
        op.drop_index(f"ix_{table}_experiment_id", table_name=table)
        op.drop_table(table)
    op.drop_index("ix_recommendations_experiments_active", table_name="recommendations_experiments")
    op.drop_table("recommendations_experiments")
    op.drop_index("ix_recommendations_models_created_at", table_name="recommendations_models")
    op.drop_table("recommendations_models")
    op.drop_table("recommendations_item_features")
