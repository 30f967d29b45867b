"""Graded feedback: what a member's ratings, dislikes and playbacks say about a title.

One weight per (member, title) enters the ranker's scoring (``Ranker.score``): positive
weights lift a title's neighbours, negative ones count against them. Explicit feedback (a
rating or a dislike) outranks what playback implies; among explicit feedback, and among
playbacks, the latest counts.

=====================  ========  =================================================
signal                 weight    why
=====================  ========  =================================================
rating 5 / 4           1.0       liked it
rating 3               0.8       watched it, lukewarm (still a sign of taste)
rating 2 / 1           -0.5/-1   disliked it: its neighbours are pushed down
dislike                -1.0      an explicit "not for me"
finished               1.0       watched to the end
watched a good part    0.5       at least ``SUBSTANTIAL_SECONDS`` but not finished
abandoned early        -0.3      stopped within the first ``ABANDONED_SECONDS``
=====================  ========  =================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# where an interaction came from (``InteractionRecord.source``)
RATING_SOURCE = "rating"  # a member's rating or dislike through the API
EXPLICIT_SOURCES = frozenset({RATING_SOURCE, "movielens"})  # imported ratings are ratings

RATING_WEIGHTS = {5: 1.0, 4: 1.0, 3: 0.8, 2: -0.5, 1: -1.0}
DISLIKE_WEIGHT = -1.0
FINISHED_WEIGHT = 1.0
PARTLY_WATCHED_WEIGHT = 0.5
ABANDONED_WEIGHT = -0.3
SUBSTANTIAL_SECONDS = 600  # watched this much without finishing: a partial positive
ABANDONED_SECONDS = 300  # stopped before this: abandoned


class FeedbackError(ValueError):
    """Feedback that cannot be graded (a rating outside 1 to 5)."""


def rating_weight(stars: float) -> float:
    """The weight of a 1-5 star rating (half stars round to the nearest whole star)."""
    if not 1 <= stars <= 5:
        raise FeedbackError(f"A rating is 1 to 5 stars, not {stars:g}.")
    return RATING_WEIGHTS[round(stars)]


def playback_weight(completed: bool, position_seconds: int) -> float | None:
    """The weight a finished, partly watched or abandoned playback implies (None: too
    little to say either way)."""
    if completed:
        return FINISHED_WEIGHT
    if position_seconds >= SUBSTANTIAL_SECONDS:
        return PARTLY_WATCHED_WEIGHT
    if position_seconds < ABANDONED_SECONDS:
        return ABANDONED_WEIGHT
    return None


def graded(interactions: Iterable[tuple[str, float, str]]) -> dict[str, float]:
    """Each title's weight from its (content id, weight, source) interactions, oldest first:
    the latest explicit feedback when there is any, else the latest playback."""
    explicit: dict[str, float] = {}
    implicit: dict[str, float] = {}
    for content_id, weight, source in interactions:
        (explicit if source in EXPLICIT_SOURCES else implicit)[content_id] = weight
    return {**implicit, **explicit}


@dataclass(frozen=True)
class History:
    """A viewing profile's titles, oldest first (each once, at its latest interaction), and
    each one's grade (``graded``)."""

    titles: tuple[str, ...] = ()
    grades: Mapping[str, float] = field(default_factory=dict)

    def grade(self, content_id: str) -> float:
        return self.grades.get(content_id, 1.0)

    def liked(self) -> list[str]:
        """The titles with a positive grade, oldest first."""
        return [t for t in self.titles if self.grade(t) > 0]
