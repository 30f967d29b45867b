"""Catalog storage: titles (movies, series, seasons, episodes), genres, people, availability
and the outbox of catalog events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from media_gateway.storage.types import timestamp_field


class ContentRecord(SQLModel, table=True):
    __tablename__ = "catalog_contents"

    id: str = Field(primary_key=True, max_length=160)
    kind: str = Field(max_length=16, index=True)  # movie | series | season | episode
    title: str = Field(max_length=300)
    title_search: str = Field(max_length=300, index=True)  # lower-cased, accents kept
    year: int | None = Field(default=None, index=True)
    runtime_minutes: int | None = None
    synopsis: str | None = Field(default=None, sa_type=sa.Text)
    content_rating: str | None = Field(default=None, max_length=16)
    popularity: float = Field(default=0.0, index=True)
    parent_id: str | None = Field(
        default=None, foreign_key="catalog_contents.id", index=True, max_length=160
    )
    season_number: int | None = None
    episode_number: int | None = None
    created_at: datetime = timestamp_field()
    original_title: str | None = Field(default=None, max_length=300)
    quality_score: float | None = None  # 0-10
    imdb_id: str | None = Field(default=None, max_length=16, index=True)
    tmdb_id: str | None = Field(default=None, max_length=16, index=True)
    eidr_id: str | None = Field(default=None, max_length=40, index=True)
    updated_at: datetime | None = timestamp_field(nullable=True)
    # retired by an editor: gone from browsing and search, still resolvable by id
    retired_at: datetime | None = timestamp_field(nullable=True, index=True)


class ContentGenreRecord(SQLModel, table=True):
    __tablename__ = "catalog_content_genres"

    content_id: str = Field(foreign_key="catalog_contents.id", primary_key=True, max_length=160)
    genre: str = Field(primary_key=True, max_length=64, index=True)


class AvailabilityRecord(SQLModel, table=True):
    """Where a title can be watched. Rows seeded with the demo catalog are demo data."""

    __tablename__ = "catalog_availability"

    id: int | None = Field(default=None, primary_key=True)
    content_id: str = Field(foreign_key="catalog_contents.id", index=True, max_length=160)
    platform: str = Field(max_length=40)
    region: str = Field(max_length=8)
    offer_type: str = Field(max_length=24)  # subscription | free | rent | buy
    price: Decimal | None = Field(default=None, sa_type=sa.Numeric(10, 2))
    currency: str | None = Field(default=None, max_length=3)
    quality: str = Field(max_length=8)  # SD | HD | UHD
    deep_link: str = Field(max_length=500)
    is_demo_data: bool = Field(default=False)
    leaves_at: datetime | None = timestamp_field(nullable=True, index=True)
    source: str | None = Field(default=None, max_length=40)  # the feed that reported the offer


class PersonRecord(SQLModel, table=True):
    __tablename__ = "catalog_people"

    id: str = Field(primary_key=True, max_length=160)
    name: str = Field(max_length=200)
    name_search: str = Field(max_length=200, index=True)
    popularity: float = Field(default=0.0)


class CreditRecord(SQLModel, table=True):
    """A person's part in a title: cast (with a character) or crew (with a job)."""

    __tablename__ = "catalog_credits"

    content_id: str = Field(foreign_key="catalog_contents.id", primary_key=True, max_length=160)
    person_id: str = Field(foreign_key="catalog_people.id", primary_key=True, max_length=160)
    role: str = Field(primary_key=True, max_length=8)  # cast | crew
    job: str | None = Field(default=None, max_length=60)  # Director, Writer, ...
    character: str | None = Field(default=None, max_length=200)
    position: int = Field(default=0)


class CatalogVersionRecord(SQLModel, table=True):
    """One edit of a title or a person: its state before and after, and who made it.

    ``version`` counts an entity's edits from 1; the unique key makes two edits that started
    from the same version conflict (optimistic concurrency)."""

    __tablename__ = "catalog_versions"
    __table_args__ = (
        sa.UniqueConstraint("entity_type", "entity_id", "version", name="uq_catalog_versions"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entity_type: str = Field(max_length=16)  # title | person
    entity_id: str = Field(max_length=160, index=True)
    version: int
    action: str = Field(max_length=60)  # catalog.title.update, catalog.person.create, ...
    actor_id: str | None = Field(default=None, max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    undoes_version_id: int | None = Field(default=None)
    created_at: datetime = timestamp_field()


class CatalogOutboxRecord(SQLModel, table=True):
    """Catalog events written with the change that caused them; a relay publishes them."""

    __tablename__ = "catalog_outbox"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=80, index=True)
    key: str = Field(max_length=160)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = timestamp_field()
    published_at: datetime | None = timestamp_field(nullable=True, index=True)
    attempts: int = Field(default=0)
