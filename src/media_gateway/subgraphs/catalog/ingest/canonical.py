"""The canonical shape every platform feed is normalized to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class CanonicalOffer:
    platform: str
    region: str
    offer_type: str  # subscription | free | rent | buy
    quality: str = "HD"  # SD | HD | UHD
    deep_link: str = ""
    price: Decimal | None = None
    currency: str | None = None
    leaves_at: datetime | None = None


@dataclass(frozen=True)
class CanonicalTitle:
    platform: str
    source_id: str
    kind: str  # movie | series
    title: str
    year: int | None = None
    runtime_minutes: int | None = None
    content_rating: str | None = None
    genres: tuple[str, ...] = ()
    synopsis: str | None = None
    original_title: str | None = None
    imdb_id: str | None = None
    tmdb_id: str | None = None
    eidr_id: str | None = None
    cast: tuple[str, ...] = ()
    directors: tuple[str, ...] = ()
    quality_score: float | None = None
    # what the feed says about reception and age, the inputs of the quality score and freshness
    critic_score: float | None = None  # 0-100 (share of positive critic reviews)
    audience_score: float | None = None  # 0-10 (mean audience rating)
    vote_count: int | None = None  # how many audience ratings that mean is over
    released_at: datetime | None = None
    offers: tuple[CanonicalOffer, ...] = field(default=())


class FeedError(ValueError):
    """A feed that does not have its platform's shape."""
