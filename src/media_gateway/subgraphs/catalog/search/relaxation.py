"""Relaxing a natural-language request that matches nothing.

"funny space movies from the 90s on netflix" implies five constraints (the words "space",
the genre Comedy, movies, 1990-1999, Netflix). When together they match no title, the engine
drops the implied constraints one at a time, in the order below (where a title can be watched
first, then when it was made, then its genre, then its kind), until something matches, and
says which it dropped. Constraints the client set explicitly (the ``filters`` argument) and a
content-rating limit ("for kids") are never relaxed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

# the name a relaxed constraint is reported by -> the filter fields it covers
RELAXABLE: dict[str, tuple[str, ...]] = {
    "platforms": ("platforms",),
    "offerTypes": ("offer_types",),
    "years": ("year_from", "year_to"),
    "maxRuntime": ("max_runtime",),
    "minRating": ("min_rating",),
    "genres": ("genres",),
    "kinds": ("kinds",),
}

Filters = TypeVar("Filters")


def relaxation_steps(explicit: Any, implied: Any) -> list[str]:
    """The constraints ``implied`` adds to ``explicit``, in the order they are relaxed."""
    return [
        name
        for name, fields in RELAXABLE.items()
        if any(getattr(implied, f) != getattr(explicit, f) for f in fields)
    ]


def relax(filters: Filters, step: str, explicit: Any) -> Filters:
    """``filters`` with the constraint ``step`` back to what the client chose."""
    fields = RELAXABLE[step]
    return dataclasses.replace(filters, **{f: getattr(explicit, f) for f in fields})  # type: ignore[type-var]
