"""Search quality: stored embeddings and title aliases.

Revision ID: 0018_search_quality
Revises: 0017_recommendation_feedback
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0018_search_quality"
down_revision: str | None = "0017_recommendation_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
