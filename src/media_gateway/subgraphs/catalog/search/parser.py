"""A rule-based natural-language query parser.

"funny space movies from the 90s on netflix" -> genres [Comedy], kinds [movie],
years 1990-1999, platforms [Netflix], free text "space". The parser only takes filters out
of a query that reads like a request (it names a kind, a period or "on <platform>"), so a
title such as "Crime and Punishment" stays a title search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from media_gateway.subgraphs.catalog.search.vocabulary import (
    GENRE_WORDS,
    PLATFORM_ALIASES,
    STOPWORDS,
    SYNONYMS,
)
from media_gateway.subgraphs.catalog.text import fold

_TOKEN = re.compile(r"[a-z0-9][a-z0-9+'-]*")
_DECADE = re.compile(r"^(?:(?P<century>19|20)?(?P<decade>\d)0)'?s$")
_YEAR = re.compile(r"^(19|20)\d\d$")
_KIND_WORDS = {
    "movie": "movie",
    "movies": "movie",
    "film": "movie",
    "films": "movie",
    "flick": "movie",
    "flicks": "movie",
    "series": "series",
    "show": "series",
    "shows": "series",
    "tv": "series",
}
_NUMBER_WORDS = {
    "twenties": 1920,
    "thirties": 1930,
    "forties": 1940,
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
}


@dataclass
class ParsedQuery:
    text: str
    genres: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    offer_types: list[str] = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    max_runtime: int | None = None
    min_rating: float | None = None
    max_content_rating: str | None = None

    @property
    def has_filters(self) -> bool:
        return bool(
            self.genres
            or self.platforms
            or self.kinds
            or self.offer_types
            or self.year_from is not None
            or self.year_to is not None
            or self.max_runtime is not None
            or self.min_rating is not None
            or self.max_content_rating is not None
        )


def expand_synonyms(text: str) -> str:
    """Rewrite known phrases ("sci-fi" -> "science fiction") in a folded query."""
    words = fold(text).split()
    out: list[str] = []
    index = 0
    while index < len(words):
        two = " ".join(words[index : index + 2])
        if index + 1 < len(words) and two in SYNONYMS:
            out.append(SYNONYMS[two])
            index += 2
            continue
        out.append(SYNONYMS.get(words[index], words[index]))
        index += 1
    return " ".join(out)


def _decade_start(token: str) -> int | None:
    if token in _NUMBER_WORDS:
        return _NUMBER_WORDS[token]
    match = _DECADE.match(token)
    if not match:
        return None
    decade = int(match["decade"]) * 10
    century = match["century"]
    if century:
        return int(century) * 100 + decade
    return (1900 if decade >= 30 else 2000) + decade


def parse(query: str) -> ParsedQuery:
    """Filters plus the remaining free text; the query unchanged when it is not a request."""
    tokens = _TOKEN.findall(fold(query))
    parsed = ParsedQuery(text="")
    rest: list[str] = []
    signal = False
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        after_next = tokens[index + 2] if index + 2 < len(tokens) else ""
        # "on netflix", "on apple tv+", "streaming on hulu"
        if token in {"on", "via"}:
            for width in (3, 2, 1):
                phrase = " ".join(tokens[index + 1 : index + 1 + width])
                if phrase in PLATFORM_ALIASES:
                    parsed.platforms.append(PLATFORM_ALIASES[phrase])
                    index += 1 + width
                    signal = True
                    break
            else:
                index += 1
            continue
        decade = _decade_start(token)
        if decade is not None:
            parsed.year_from, parsed.year_to = decade, decade + 9
            signal = True
            index += 1
            continue
        if token in {"from", "in", "before", "after", "since"} and _YEAR.match(following):
            year = int(following)
            if token in {"from", "in"}:
                parsed.year_from, parsed.year_to = year, year
            elif token == "before":
                parsed.year_to = year - 1
            else:
                parsed.year_from = year if token == "since" else year + 1
            signal = True
            index += 2
            continue
        if token in {"under", "shorter"} and following.isdigit():
            parsed.max_runtime = int(following)
            signal = True
            index += 3 if after_next in {"min", "mins", "minutes"} else 2
            continue
        if token == "for" and following in {"kids", "children", "family"}:
            parsed.max_content_rating = "PG"
            signal = True
            index += 2
            continue
        if token in {"free"}:
            parsed.offer_types.append("free")
            index += 1
            continue
        if token == "to" and following in {"rent", "buy"}:
            parsed.offer_types.append(following)
            signal = True
            index += 2
            continue
        if token in {"highly", "top", "best"} and following in {"rated", "reviewed"}:
            parsed.min_rating = 7.0
            signal = True
            index += 2
            continue
        if token in _KIND_WORDS:
            kind = _KIND_WORDS[token]
            if kind not in parsed.kinds:
                parsed.kinds.append(kind)
            signal = True
            index += 1
            continue
        pair = f"{token} {following}"
        if following and pair in GENRE_WORDS:
            parsed.genres.append(GENRE_WORDS[pair])
            index += 2
            continue
        if token in GENRE_WORDS:
            parsed.genres.append(GENRE_WORDS[token])
            index += 1
            continue
        rest.append(token)
        index += 1
    if not signal:
        return ParsedQuery(text=query)
    parsed.genres = list(dict.fromkeys(parsed.genres))
    parsed.platforms = list(dict.fromkeys(parsed.platforms))
    parsed.offer_types = list(dict.fromkeys(parsed.offer_types))
    parsed.text = " ".join(word for word in rest if word not in STOPWORDS)
    return parsed
