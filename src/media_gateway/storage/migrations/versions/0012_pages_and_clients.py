"""Pages, sign-in and consent; the built-in clients.

Revision ID: 0012_pages_and_clients
Revises: 0011_oauth_resources
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0012_pages_and_clients"
down_revision: str | None = "0011_oauth_resources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
