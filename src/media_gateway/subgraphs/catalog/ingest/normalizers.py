"""One normalizer per platform: that platform's feed shape -> ``CanonicalTitle``.

The feed shapes (documented with examples in the tests) are:

* Netflix ``{"titles": [{"netflixId", "title", "type": movie|show, "releaseYear",
  "runtimeMinutes", "maturityRating", "genres", "imdbId", "synopsis", "cast", "directors",
  "availability": [{"country", "availableUntil", "quality"}]}]}``
* Prime Video ``{"items": [{"asin", "name", "contentType": MOVIE|TV_SERIES, "year",
  "durationSeconds", "rating", "genres", "externalIds": {"imdb", "tmdb"},
  "offers": [{"marketplace", "type": SVOD|AVOD|TVOD_RENT|TVOD_BUY,
  "price": {"amount", "currency"}, "resolution": SD|HD|4K, "endDate"}]}]}``
* Disney+ ``{"data": {"programs": [{"programId", "titleText", "programType": movie|series,
  "releaseDate", "runtimeMs", "ratingValue", "genreTags", "eidr", "regions", "expiresAt"}]}}``
* Max ``{"entries": [{"id", "title", "kind": FEATURE|SERIES, "year", "runtime": "2h 16m",
  "contentRating", "genres", "ids": {"imdb", "tmdb"},
  "availability": [{"territory", "end", "tier": ad-free|with-ads}]}]}``
* Hulu ``{"items": [{"eab_id", "name", "type": movie|series, "premiere_date",
  "duration_minutes", "rating", "genre_names", "tmdb_id",
  "availability": [{"region", "expires", "package": ads|no_ads}]}]}``
* Apple TV+ ``{"results": [{"adamId", "title", "type": Movie|Show, "releaseYear",
  "durationInSeconds", "contentRatings": {"US": ...}, "genres": [{"name"}],
  "storefronts", "offerEnds"}]}``
* Paramount+ ``{"content": [{"contentId", "title", "mediaType": MOVIE|SHOW, "year", "length",
  "mpaaRating" | "tvRating", "categories", "countries", "leavingDate"}]}``
* Peacock ``{"assets": [{"uuid", "title", "assetType": programme|series, "year",
  "durationMins", "certificate", "genreList", "imdb",
  "territories": [{"code", "tier": free|premium, "end"}]}]}``
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from media_gateway.platform import ratings
from media_gateway.subgraphs.catalog.ingest.canonical import (
    CanonicalOffer,
    CanonicalTitle,
    FeedError,
)
from media_gateway.subgraphs.catalog.search.vocabulary import GENRE_WORDS, GENRES

Normalizer = Callable[[Mapping[str, Any]], list[CanonicalTitle]]

# platform genre labels (lower-cased) that do not read as one of our genres word by word
_GENRE_LABELS: dict[str, tuple[str, ...]] = {
    "sci-fi & fantasy": ("Science Fiction", "Fantasy"),
    "science fiction & fantasy": ("Science Fiction", "Fantasy"),
    "action & adventure": ("Action", "Adventure"),
    "kids & family": ("Family",),
    "kids": ("Family",),
    "children & family": ("Family",),
    "anime": ("Animation",),
    "suspense": ("Thriller",),
    "thrillers & suspense": ("Thriller",),
    "docuseries": ("Documentary",),
    "true crime": ("Crime", "Documentary"),
    "musicals": ("Music",),
    "music & musicals": ("Music",),
    "historical": ("History",),
    "romcom": ("Romance", "Comedy"),
    "romantic comedies": ("Romance", "Comedy"),
    "stand-up comedy": ("Comedy",),
}


def map_genres(labels: Iterable[str]) -> tuple[str, ...]:
    """A platform's genre labels -> our genre vocabulary (unknown labels are dropped)."""
    found: list[str] = []
    for label in labels:
        key = " ".join(str(label).lower().split())
        mapped = _GENRE_LABELS.get(key)
        if mapped is None:
            direct = [g for g in GENRES if g.lower() == key]
            if direct:
                mapped = tuple(direct)
            else:
                words = re.split(r"[^a-z-]+", key)
                mapped = tuple(GENRE_WORDS[w] for w in words if w in GENRE_WORDS)
        found.extend(g for g in mapped if g not in found)
    return tuple(found)


def _items(feed: Mapping[str, Any], *path: str) -> list[Mapping[str, Any]]:
    node: Any = feed
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            raise FeedError(f"the feed has no {'.'.join(path)} list")
        node = node[key]
    if not isinstance(node, list):
        raise FeedError(f"{'.'.join(path)} is not a list")
    return [item for item in node if isinstance(item, Mapping)]


def _text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _required(item: Mapping[str, Any], key: str) -> str:
    value = _text(item, key)
    if value is None:
        raise FeedError(f"an item has no {key}")
    return value[:300]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None


def _signals(item: Mapping[str, Any]) -> dict[str, Any]:
    """Reception and release date, under the keys the feeds use for them (all optional):
    ``criticScore`` (0-100), ``audienceScore``/``userRating`` (0-10), ``voteCount``/``votes``,
    ``releaseDate``/``premiere_date``/``premiereDate``/``availableFrom`` (ISO date)."""
    critic = _number(item.get("criticScore"))
    audience = _number(item.get("audienceScore", item.get("userRating")))
    votes = _int(item.get("voteCount", item.get("votes")))
    released = None
    for key in ("releaseDate", "premiere_date", "premiereDate", "availableFrom"):
        released = _when(item.get(key))
        if released is not None:
            break
    return {
        "critic_score": min(max(critic, 0.0), 100.0) if critic is not None else None,
        "audience_score": min(max(audience, 0.0), 10.0) if audience is not None else None,
        "vote_count": max(votes, 0) if votes is not None else None,
        "released_at": released,
    }


def _price(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01")) if value is not None else None
    except InvalidOperation:
        return None


def _rating(value: Any) -> str | None:
    return ratings.normalize(str(value)) if value else None


def _quality(value: Any) -> str:
    text = str(value or "HD").upper()
    if text in {"4K", "UHD", "2160P"}:
        return "UHD"
    if text in {"SD", "480P"}:
        return "SD"
    return "HD"


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v).strip()[:200] for v in value if str(v).strip())


def netflix(feed: Mapping[str, Any]) -> list[CanonicalTitle]:
    titles = []
    for item in _items(feed, "titles"):
        source_id = _required(item, "netflixId")
        offers = tuple(
            CanonicalOffer(
                platform="Netflix",
                region=str(a.get("country", "US")).upper()[:8],
                offer_type="subscription",
                quality=_quality(a.get("quality")),
                deep_link=f"https://www.netflix.com/title/{source_id}",
                leaves_at=_when(a.get("availableUntil")),
            )
            for a in item.get("availability") or []
            if isinstance(a, Mapping)
        )
        titles.append(
            CanonicalTitle(
                **_signals(item),
                platform="Netflix",
                source_id=source_id,
                kind="series" if item.get("type") == "show" else "movie",
                title=_required(item, "title"),
                year=_int(item.get("releaseYear")),
                runtime_minutes=_int(item.get("runtimeMinutes")),
                content_rating=_rating(item.get("maturityRating")),
                genres=map_genres(_strings(item.get("genres"))),
                synopsis=_text(item, "synopsis"),
                imdb_id=_text(item, "imdbId"),
                cast=_strings(item.get("cast")),
                directors=_strings(item.get("directors")),
                offers=offers,
            )
        )
    return titles


_PRIME_TYPES = {"SVOD": "subscription", "AVOD": "free", "TVOD_RENT": "rent", "TVOD_BUY": "buy"}


def prime_video(feed: Mapping[str, Any]) -> list[CanonicalTitle]:
    titles = []
    for item in _items(feed, "items"):
        asin = _required(item, "asin")
        ids = item.get("externalIds") or {}
        offers = []
        for offer in item.get("offers") or []:
            if not isinstance(offer, Mapping) or offer.get("type") not in _PRIME_TYPES:
                continue
            price = offer.get("price") or {}
            offers.append(
                CanonicalOffer(
                    platform="Prime Video",
                    region=str(offer.get("marketplace", "US")).upper()[:8],
                    offer_type=_PRIME_TYPES[str(offer["type"])],
                    quality=_quality(offer.get("resolution")),
                    deep_link=f"https://www.primevideo.com/detail/{asin}",
                    price=_price(price.get("amount")) if isinstance(price, Mapping) else None,
                    currency=str(price.get("currency"))[:3]
                    if isinstance(price, Mapping) and price.get("currency")
                    else None,
                    leaves_at=_when(offer.get("endDate")),
                )
            )
        seconds = _int(item.get("durationSeconds"))
        titles.append(
            CanonicalTitle(
                **_signals(item),
                platform="Prime Video",
                source_id=asin,
                kind="series" if item.get("contentType") == "TV_SERIES" else "movie",
                title=_required(item, "name"),
                year=_int(item.get("year")),
                runtime_minutes=round(seconds / 60) if seconds else None,
                content_rating=_rating(item.get("rating")),
                genres=map_genres(_strings(item.get("genres"))),
                imdb_id=_text(ids, "imdb") if isinstance(ids, Mapping) else None,
                tmdb_id=_text(ids, "tmdb") if isinstance(ids, Mapping) else None,
                offers=tuple(offers),
            )
        )
    return titles


def disney_plus(feed: Mapping[str, Any]) -> list[CanonicalTitle]:
    titles = []
    for item in _items(feed, "data", "programs"):
        program_id = _required(item, "programId")
        released = _text(item, "releaseDate") or ""
        runtime_ms = _int(item.get("runtimeMs"))
        titles.append(
            CanonicalTitle(
                **_signals(item),
                platform="Disney+",
                source_id=program_id,
                kind="series" if item.get("programType") == "series" else "movie",
                title=_required(item, "titleText"),
                year=_int(released[:4]),
                runtime_minutes=round(runtime_ms / 60000) if runtime_ms else None,
                content_rating=_rating(item.get("ratingValue")),
                genres=map_genres(_strings(item.get("genreTags"))),
                eidr_id=_text(item, "eidr"),
                offers=tuple(
                    CanonicalOffer(
                        platform="Disney+",
                        region=str(region).upper()[:8],
                        offer_type="subscription",
                        quality="UHD",
                        deep_link=f"https://www.disneyplus.com/video/{program_id}",
                        leaves_at=_when(item.get("expiresAt")),
                    )
                    for region in _strings(item.get("regions"))
                ),
            )
        )
    return titles


def _hours_minutes(text: str | None) -> int | None:
    if not text:
        return None
    match = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*", text)
    if not match or not any(match.groups()):
        return None
    return int(match[1] or 0) * 60 + int(match[2] or 0)


def max_platform(feed: Mapping[str, Any]) -> list[CanonicalTitle]:
    titles = []
    for item in _items(feed, "entries"):
        source_id = _required(item, "id")
        ids = item.get("ids") or {}
        titles.append(
            CanonicalTitle(
                **_signals(item),
                platform="Max",
                source_id=source_id,
                kind="series" if item.get("kind") == "SERIES" else "movie",
                title=_required(item, "title"),
                year=_int(item.get("year")),
                runtime_minutes=_hours_minutes(_text(item, "runtime")),
                content_rating=_rating(item.get("contentRating")),
                genres=map_genres(_strings(item.get("genres"))),
                imdb_id=_text(ids, "imdb") if isinstance(ids, Mapping) else None,
                tmdb_id=_text(ids, "tmdb") if isinstance(ids, Mapping) else None,
                offers=tuple(
                    CanonicalOffer(
                        platform="Max",
                        region=str(a.get("territory", "US")).upper()[:8],
                        offer_type="subscription",
                        quality="UHD" if a.get("tier") == "ad-free" else "HD",
                        deep_link=f"https://play.max.com/movie/{source_id}",
                        leaves_at=_when(a.get("end")),
                    )
                    for a in item.get("availability") or []
                    if isinstance(a, Mapping)
                ),
            )
        )
    return titles


def hulu(feed: Mapping[str, Any]) -> list[CanonicalTitle]:
    titles = []
    for item in _items(feed, "items"):
        source_id = _required(item, "eab_id")
        titles.append(
            CanonicalTitle(
                **_signals(item),
                platform="Hulu",
                source_id=source_id,
                kind="series" if item.get("type") == "series" else "movie",
                title=_required(item, "name"),
                year=_int((_text(item, "premiere_date") or "")[:4]),
                runtime_minutes=_int(item.get("duration_minutes")),
                content_rating=_rating(item.get("rating")),
                genres=map_genres(_strings(item.get("genre_names"))),
                tmdb_id=_text(item, "tmdb_id"),
                offers=tuple(
                    CanonicalOffer(
                        platform="Hulu",
                        region=str(a.get("region", "US")).upper()[:8],
                        offer_type="subscription",
                        quality="HD",
                        deep_link=f"https://www.hulu.com/watch/{source_id}",
                        leaves_at=_when(a.get("expires")),
                    )
                    for a in item.get("availability") or []
                    if isinstance(a, Mapping)
                ),
            )
        )
    return titles


def apple_tv_plus(feed: Mapping[str, Any]) -> list[CanonicalTitle]:
    titles = []
    for item in _items(feed, "results"):
        source_id = _required(item, "adamId")
        seconds = _int(item.get("durationInSeconds"))
        content_ratings = item.get("contentRatings") or {}
        rating = content_ratings.get("US") if isinstance(content_ratings, Mapping) else None
        genre_names = [
            str(g.get("name")) for g in item.get("genres") or [] if isinstance(g, Mapping)
        ]
        titles.append(
            CanonicalTitle(
                **_signals(item),
                platform="Apple TV+",
                source_id=source_id,
                kind="series" if item.get("type") == "Show" else "movie",
                title=_required(item, "title"),
                year=_int(item.get("releaseYear")),
                runtime_minutes=round(seconds / 60) if seconds else None,
                content_rating=_rating(rating),
                genres=map_genres(genre_names),
                offers=tuple(
                    CanonicalOffer(
                        platform="Apple TV+",
                        region=region.upper()[:8],
                        offer_type="subscription",
                        quality="UHD",
                        deep_link=f"https://tv.apple.com/{region.lower()}/movie/{source_id}",
                        leaves_at=_when(item.get("offerEnds")),
                    )
                    for region in _strings(item.get("storefronts"))
                ),
            )
        )
    return titles


def paramount_plus(feed: Mapping[str, Any]) -> list[CanonicalTitle]:
    titles = []
    for item in _items(feed, "content"):
        source_id = _required(item, "contentId")
        titles.append(
            CanonicalTitle(
                **_signals(item),
                platform="Paramount+",
                source_id=source_id,
                kind="series" if item.get("mediaType") == "SHOW" else "movie",
                title=_required(item, "title"),
                year=_int(item.get("year")),
                runtime_minutes=_int(item.get("length")),
                content_rating=_rating(item.get("mpaaRating") or item.get("tvRating")),
                genres=map_genres(_strings(item.get("categories"))),
                offers=tuple(
                    CanonicalOffer(
                        platform="Paramount+",
                        region=region.upper()[:8],
                        offer_type="subscription",
                        quality="HD",
                        deep_link=f"https://www.paramountplus.com/movies/video/{source_id}/",
                        leaves_at=_when(item.get("leavingDate")),
                    )
                    for region in _strings(item.get("countries"))
                ),
            )
        )
    return titles


def peacock(feed: Mapping[str, Any]) -> list[CanonicalTitle]:
    titles = []
    for item in _items(feed, "assets"):
        source_id = _required(item, "uuid")
        titles.append(
            CanonicalTitle(
                **_signals(item),
                platform="Peacock",
                source_id=source_id,
                kind="series" if item.get("assetType") == "series" else "movie",
                title=_required(item, "title"),
                year=_int(item.get("year")),
                runtime_minutes=_int(item.get("durationMins")),
                content_rating=_rating(item.get("certificate")),
                genres=map_genres(_strings(item.get("genreList"))),
                imdb_id=_text(item, "imdb"),
                offers=tuple(
                    CanonicalOffer(
                        platform="Peacock",
                        region=str(t.get("code", "US")).upper()[:8],
                        offer_type="free" if t.get("tier") == "free" else "subscription",
                        quality="HD",
                        deep_link=f"https://www.peacocktv.com/watch/asset/{source_id}",
                        leaves_at=_when(t.get("end")),
                    )
                    for t in item.get("territories") or []
                    if isinstance(t, Mapping)
                ),
            )
        )
    return titles


NORMALIZERS: dict[str, tuple[str, Normalizer]] = {
    "netflix": ("Netflix", netflix),
    "prime-video": ("Prime Video", prime_video),
    "disney-plus": ("Disney+", disney_plus),
    "max": ("Max", max_platform),
    "hulu": ("Hulu", hulu),
    "apple-tv-plus": ("Apple TV+", apple_tv_plus),
    "paramount-plus": ("Paramount+", paramount_plus),
    "peacock": ("Peacock", peacock),
}


def normalizer_for(platform: str) -> tuple[str, Normalizer]:
    key = platform.strip().lower().replace("+", "-plus").replace(" ", "-").replace("_", "-")
    key = key.replace("--", "-").strip("-")
    if key not in NORMALIZERS:
        raise FeedError(f"unknown platform {platform!r}; known: {', '.join(NORMALIZERS)}")
    return NORMALIZERS[key]
