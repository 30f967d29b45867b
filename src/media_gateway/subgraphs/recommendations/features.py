"""Item features: the recommender's own copy of catalog metadata.

The catalog owns titles; the recommender keeps what it ranks and filters by (genres, year,
runtime, rating, offer regions) in its own table, and reads title texts for the embedder when
it trains. Both come from a ``CatalogSource`` handed in by whoever assembles the subgraph:
the recommender never reads the catalog's tables itself. When the catalog cannot be read
from here (its data lives elsewhere) the stored features are kept and titles are not embedded.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from typing import Protocol

from sqlalchemy import insert
from sqlmodel import delete

from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.recommendations.models import ItemFeaturesRecord
from media_gateway.subgraphs.recommendations.ranker import ItemFeatures, item_text
from media_gateway.subgraphs.recommendations.selection import Features

log = logging.getLogger(__name__)


class TitleFacts(Protocol):
    """A movie or series as the catalog describes it."""

    @property
    def id(self) -> str: ...
    @property
    def year(self) -> int | None: ...
    @property
    def runtime_minutes(self) -> int | None: ...
    @property
    def content_rating(self) -> str | None: ...
    @property
    def genres(self) -> Sequence[str]: ...
    @property
    def regions(self) -> Collection[str]: ...  # where it has an offer


class TitleText(Protocol):
    """What the embedder reads of a title."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def genres(self) -> Sequence[str]: ...
    @property
    def synopsis(self) -> str | None: ...


class CatalogSource(Protocol):
    """The catalog's movies and series (raises when its data cannot be read from here)."""

    async def title_facts(self) -> Sequence[TitleFacts]: ...
    async def title_texts(self) -> Sequence[TitleText]: ...


async def copy_item_features(database: Database, catalog: CatalogSource | None) -> int:
    """Replace the stored item features by the catalog's current facts; how many were kept
    (0 and nothing changed when the catalog is not readable or has no titles)."""
    if catalog is None:
        return 0
    try:
        titles = await catalog.title_facts()
    except Exception:  # the catalog's data lives elsewhere: keep what we have
        log.warning("catalog tables not readable; item features unchanged")
        return 0
    try:
        names = {t.id: t.title for t in await catalog.title_texts()}
    except Exception:  # no names (reasons then name no title) rather than no features
        names = {}
    now = utcnow()
    records = [
        {
            "content_id": t.id,
            "title": (names.get(t.id) or "")[:500] or None,
            "genres": "|".join(sorted(t.genres))[:500],
            "year": t.year,
            "runtime_minutes": t.runtime_minutes,
            "content_rating": t.content_rating,
            "regions": ",".join(sorted({r.upper() for r in t.regions}))[:1000],
            "updated_at": now,
        }
        for t in titles
    ]
    if not records:
        return 0
    async with database.transaction() as session:
        await session.exec(delete(ItemFeaturesRecord))
        connection = await session.connection()
        for start in range(0, len(records), 2000):
            await connection.execute(insert(ItemFeaturesRecord), records[start : start + 2000])
    return len(records)


async def item_texts(catalog: CatalogSource | None) -> dict[str, str]:
    """Title, genres and synopsis of every catalog title, what the embedder reads (empty
    when the catalog is not readable from here)."""
    if catalog is None:
        return {}
    try:
        titles = await catalog.title_texts()
    except Exception:  # the catalog's data lives elsewhere: no text signal
        log.warning("catalog tables not readable; titles are not embedded")
        return {}
    return {t.id: item_text(t.title, sorted(t.genres), t.synopsis) for t in titles}


def serving_features(records: Sequence[ItemFeaturesRecord]) -> dict[str, Features]:
    """Stored features as serving filters and boosts read them."""
    return {
        f.content_id: Features(
            title=f.title,
            genres=_split(f.genres, "|"),
            year=f.year,
            runtime_minutes=f.runtime_minutes,
            content_rating=f.content_rating,
            regions=frozenset(_split(f.regions, ",")),
        )
        for f in records
    }


def training_features(records: Sequence[ItemFeaturesRecord]) -> dict[str, ItemFeatures]:
    """Stored features as training reads them (genres and year)."""
    return {f.content_id: ItemFeatures(_split(f.genres, "|"), f.year) for f in records}


def _split(joined: str, separator: str) -> tuple[str, ...]:
    return tuple(part for part in joined.split(separator) if part)
