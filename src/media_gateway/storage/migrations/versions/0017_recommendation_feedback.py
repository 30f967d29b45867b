"""Graded feedback and sign-in-able imported members.

Revision ID: 0017_recommendation_feedback
Revises: 0016_search_analytics
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0017_recommendation_feedback"
down_revision: str | None = "0016_search_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
