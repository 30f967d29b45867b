"""Search analytics, synonyms and experiment control.

Revision ID: 0016_search_analytics
Revises: 0015_catalog_editing
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0016_search_analytics"
down_revision: str | None = "0015_catalog_editing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
