"""Roles, account administration and the audit log.

Revision ID: 0014_admin_audit
Revises: 0013_social_signin
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0014_admin_audit"
down_revision: str | None = "0013_social_signin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
