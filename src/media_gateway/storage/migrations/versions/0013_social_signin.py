"""Social sign-in through OpenID Connect: linked identities.

Revision ID: 0013_social_signin
Revises: 0012_pages_and_clients
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0013_social_signin"
down_revision: str | None = "0012_pages_and_clients"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
