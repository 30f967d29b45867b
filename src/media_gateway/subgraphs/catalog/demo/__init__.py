"""The demo catalog shipped with the product: real titles, years, runtimes and genres.

Availability rows generated for these titles are demo data (flagged ``is_demo_data``): the
platforms, prices and qualities are illustrative, and deep links open each platform's
search for the title.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from media_gateway.subgraphs.catalog.text import content_id, season_id

DEMO_DIR = Path(__file__).parent


@dataclass(frozen=True)
class DemoTitle:
    kind: str
    title: str
    year: int
    runtime_minutes: int
    content_rating: str
    genres: tuple[str, ...]
    seasons: int
    popularity: float

    @property
    def id(self) -> str:
        return content_id(self.kind, self.title, self.year)


@dataclass(frozen=True)
class DemoEpisode:
    series_id: str
    season_number: int
    episode_number: int
    title: str

    @property
    def season_id(self) -> str:
        return season_id(self.series_id, self.season_number)


@dataclass(frozen=True)
class DemoOffer:
    platform: str
    region: str
    offer_type: str
    price: str | None
    currency: str | None
    quality: str
    deep_link: str


@dataclass(frozen=True)
class DemoCatalog:
    titles: tuple[DemoTitle, ...]
    episodes: tuple[DemoEpisode, ...] = field(default=())


def _rows(name: str) -> list[list[str]]:
    text = (DEMO_DIR / name).read_text(encoding="utf-8")
    return [line.split("|") for line in text.splitlines() if line and not line.startswith("#")]


@lru_cache(maxsize=1)
def load_demo_catalog() -> DemoCatalog:
    rows = _rows("titles.psv")
    by_kind: dict[str, int] = {}
    totals: dict[str, int] = {}
    for row in rows:
        totals[row[0]] = totals.get(row[0], 0) + 1
    titles = []
    for kind, title, year, runtime, rating, genres, seasons in rows:
        rank = by_kind.get(kind, 0)
        by_kind[kind] = rank + 1
        popularity = round(100.0 * (1.0 - rank / max(totals[kind], 1)), 2)
        titles.append(
            DemoTitle(
                kind=kind,
                title=title,
                year=int(year),
                runtime_minutes=int(runtime),
                content_rating=rating,
                genres=tuple(g for g in genres.split(";") if g),
                seasons=int(seasons) if seasons else 0,
                popularity=popularity,
            )
        )
    episodes = tuple(
        DemoEpisode(content_id("series", series, int(year)), int(season), int(number), title)
        for series, year, season, number, title in _rows("episodes.psv")
    )
    return DemoCatalog(tuple(titles), episodes)


PLATFORMS: tuple[tuple[str, str], ...] = (
    ("Netflix", "https://www.netflix.com/search?q={q}"),
    ("Prime Video", "https://www.amazon.com/s?k={q}&i=instant-video"),
    ("Disney+", "https://www.disneyplus.com/search?q={q}"),
    ("Max", "https://play.max.com/search?q={q}"),
    ("Hulu", "https://www.hulu.com/search?q={q}"),
    ("Apple TV+", "https://tv.apple.com/search?term={q}"),
    ("Paramount+", "https://www.paramountplus.com/search/?q={q}"),
    ("Peacock", "https://www.peacocktv.com/search?q={q}"),
)
REGIONS = (("US", "USD"), ("GB", "GBP"))


def demo_offers(title: DemoTitle) -> list[DemoOffer]:
    """Illustrative offers for a demo title, the same on every start (derived from its id)."""
    from urllib.parse import quote_plus

    digest = hashlib.sha256(title.id.encode()).digest()
    offers: list[DemoOffer] = []
    query = quote_plus(title.title)
    count = 1 + digest[0] % 3
    for index in range(count):
        platform, link = PLATFORMS[(digest[1 + index]) % len(PLATFORMS)]
        if any(o.platform == platform for o in offers):
            continue
        for region, currency in REGIONS:
            if digest[5 + index] % 4 == 0 and region == "GB":
                continue
            quality = "UHD" if title.year >= 2010 and digest[8 + index] % 2 else "HD"
            flavour = digest[11 + index] % 5
            if flavour <= 2:
                offers.append(
                    DemoOffer(
                        platform, region, "subscription", None, None, quality, link.format(q=query)
                    )
                )
            elif flavour == 3:
                offers.append(
                    DemoOffer(
                        platform, region, "rent", "3.99", currency, quality, link.format(q=query)
                    )
                )
            else:
                offers.append(
                    DemoOffer(
                        platform, region, "buy", "14.99", currency, quality, link.format(q=query)
                    )
                )
    return offers


@dataclass(frozen=True)
class DemoCredits:
    content_id: str
    directors: tuple[str, ...]
    cast: tuple[str, ...]


@dataclass(frozen=True)
class DemoDetails:
    content_id: str
    original_title: str | None
    imdb_id: str | None
    tmdb_id: str | None


@lru_cache(maxsize=1)
def load_demo_credits() -> tuple[DemoCredits, ...]:
    return tuple(
        DemoCredits(
            content_id(kind, title, int(year)),
            tuple(d for d in directors.split(";") if d),
            tuple(c for c in cast.split(";") if c),
        )
        for kind, title, year, directors, cast in _rows("credits.psv")
    )


@lru_cache(maxsize=1)
def load_demo_details() -> dict[str, DemoDetails]:
    details = {}
    for kind, title, year, original, imdb, tmdb in _rows("details.psv"):
        identifier = content_id(kind, title, int(year))
        details[identifier] = DemoDetails(identifier, original or None, imdb or None, tmdb or None)
    return details


@lru_cache(maxsize=1)
def load_demo_synopses() -> dict[str, str]:
    """One-line synopses of some demo titles, by content id."""
    return {
        content_id(kind, title, int(year)): synopsis
        for kind, title, year, synopsis in _rows("synopses.psv")
    }


def demo_quality_score(title: DemoTitle) -> float:
    """An illustrative 0-10 score for a demo title (better known titles score higher)."""
    return round(5.5 + 3.5 * title.popularity / 100.0, 1)
