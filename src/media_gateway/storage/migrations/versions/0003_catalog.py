"""Schema of catalog (people, availability, ingestion, outbox).

Revision ID: 0003_catalog
Revises: 0002_identity
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_catalog"
down_revision: str | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_contents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("original_title", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("quality_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("imdb_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("tmdb_id", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("eidr_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_catalog_contents_imdb_id"), ["imdb_id"])
        batch_op.create_index(batch_op.f("ix_catalog_contents_tmdb_id"), ["tmdb_id"])
        batch_op.create_index(batch_op.f("ix_catalog_contents_eidr_id"), ["eidr_id"])

    with op.batch_alter_table("catalog_availability", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leaves_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f("ix_catalog_availability_leaves_at"), ["leaves_at"])

    op.create_table(
        "catalog_people",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_search", sa.String(length=200), nullable=False),
        sa.Column("popularity", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_people", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_people_name_search"), ["name_search"])

    op.create_table(
        "catalog_credits",
        sa.Column("content_id", sa.String(length=160), nullable=False),
        sa.Column("person_id", sa.String(length=160), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("job", sa.String(length=60), nullable=True),
        sa.Column("character", sa.String(length=200), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["content_id"], ["catalog_contents.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["catalog_people.id"]),
        sa.PrimaryKeyConstraint("content_id", "person_id", "role"),
    )

    op.create_table(
        "catalog_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("catalog_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_outbox_topic"), ["topic"])
        batch_op.create_index(batch_op.f("ix_catalog_outbox_published_at"), ["published_at"])


def downgrade() -> None:
    with op.batch_alter_table("catalog_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_outbox_published_at"))
        batch_op.drop_index(batch_op.f("ix_catalog_outbox_topic"))
    op.drop_table("catalog_outbox")
    op.drop_table("catalog_credits")
    with op.batch_alter_table("catalog_people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_people_name_search"))
    op.drop_table("catalog_people")
    with op.batch_alter_table("catalog_availability", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_availability_leaves_at"))
        batch_op.drop_column("source")
        batch_op.drop_column("leaves_at")
    with op.batch_alter_table("catalog_contents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_contents_eidr_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_contents_tmdb_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_contents_imdb_id"))
        for column in ("updated_at", "eidr_id", "tmdb_id", "imdb_id", "quality_score"):
            batch_op.drop_column(column)
        batch_op.drop_column("original_title")
