"""The content-rating scale shared by the catalog and identity (parental controls).

Film ratings order as G < PG < PG-13 < R < NC-17; television ratings map onto them:
TV-Y, TV-Y7 and TV-G rank with G, TV-PG with PG, TV-14 with PG-13 and TV-MA with R.
A title without a known rating is treated as the most restrictive level, so a profile with a
maximum rating never sees it.
"""

from __future__ import annotations

SCALE: tuple[str, ...] = ("G", "PG", "PG-13", "R", "NC-17")

_RANKS: dict[str, int] = {
    "G": 0,
    "TV-Y": 0,
    "TV-Y7": 0,
    "TV-G": 0,
    "PG": 1,
    "TV-PG": 1,
    "PG-13": 2,
    "TV-14": 2,
    "R": 3,
    "TV-MA": 3,
    "NC-17": 4,
}
UNRATED_RANK = len(SCALE)  # above every known level


def normalize(rating: str | None) -> str | None:
    """The canonical spelling of a rating ("pg13" -> "PG-13"), or None when unknown."""
    if rating is None:
        return None
    text = rating.strip().upper().replace("_", "-").replace(" ", "-")
    if text in _RANKS:
        return text
    compact = text.replace("-", "")
    for known in _RANKS:
        if known.replace("-", "") == compact:
            return known
    return None


def is_known(rating: str | None) -> bool:
    return normalize(rating) is not None


def rank(rating: str | None) -> int:
    """The level of a rating on the film scale (0 = G); unknown ratings rank above NC-17."""
    known = normalize(rating)
    return _RANKS[known] if known is not None else UNRATED_RANK


def allowed(rating: str | None, max_rating: str | None) -> bool:
    """May a title rated ``rating`` be shown to a profile limited to ``max_rating``?

    No limit (None) allows everything; an unknown limit allows only G-level titles.
    """
    if max_rating is None:
        return True
    limit = _RANKS.get(normalize(max_rating) or "", 0)
    return rank(rating) <= limit


def max_rank(max_rating: str | None) -> int | None:
    """The highest allowed rank for a limit (None = no limit)."""
    if max_rating is None:
        return None
    return _RANKS.get(normalize(max_rating) or "", 0)


def known_ratings() -> tuple[str, ...]:
    """Every rating the scale knows, film ratings first, in their canonical spelling."""
    return tuple(sorted(_RANKS, key=lambda r: (r.startswith("TV-"), _RANKS[r], r)))
