"""Catalog editing: versions of edited records.

Revision ID: 0015_catalog_editing
Revises: 0014_admin_audit
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0015_catalog_editing"
down_revision: str | None = "0014_admin_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
