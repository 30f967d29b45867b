"""Graded feedback and sign-in-able imported members: the recommender keeps each title's
name with its features, so reasons and rows name the catalog's real title.

Revision ID: 0017_recommendation_feedback
Revises: 0016_search_analytics
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_recommendation_feedback"
down_revision: str | None = "0016_search_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recommendations_item_features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recommendations_item_features", schema=None) as batch_op:
        batch_op.drop_column("title")
