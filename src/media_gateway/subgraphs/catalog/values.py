"""What the catalog's reads return: plain values, never storage records.

Each field is named as the column it is read from (``columns`` selects them in order), so a
read selects just these columns and builds the value from the row.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import SQLModel


@dataclass(frozen=True, slots=True)
class Title:
    """A movie, series, season or episode."""

    id: str
    kind: str  # movie | series | season | episode
    title: str
    year: int | None
    runtime_minutes: int | None
    synopsis: str | None
    content_rating: str | None
    popularity: float
    original_title: str | None
    quality_score: float | None  # 0-10
    imdb_id: str | None
    tmdb_id: str | None
    eidr_id: str | None
    parent_id: str | None  # a season's series, an episode's season
    season_number: int | None
    episode_number: int | None
    retired_at: datetime | None = None  # retired by an editor: out of browsing and search


@dataclass(frozen=True, slots=True)
class TitleGenre:
    content_id: str
    genre: str


@dataclass(frozen=True, slots=True)
class Offer:
    """Where a platform offers a title, in one region."""

    content_id: str
    platform: str
    region: str
    offer_type: str  # subscription | free | rent | buy
    price: Decimal | None
    currency: str | None
    quality: str  # SD | HD | UHD
    deep_link: str
    is_demo_data: bool
    leaves_at: datetime | None


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Credit:
    """A person's part in a title: cast (with a character) or crew (with a job)."""

    content_id: str
    person_id: str
    role: str  # cast | crew
    job: str | None
    character: str | None


def columns(value: type[Any], record: type[SQLModel]) -> list[Any]:
    """The columns of ``record`` that ``value`` is built from, in its fields' order."""
    return [getattr(record, field.name) for field in fields(value)]
