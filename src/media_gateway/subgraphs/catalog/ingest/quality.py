"""A title's quality score and freshness, computed from what the feeds carry.

Quality (0-10): the audience's mean rating shrunk toward a prior by a Bayesian average (a
title rated 9.0 by 20 viewers is not yet better than one rated 8.5 by 50,000), blended with
the critics' score when a feed has one, plus a small bonus for each further platform that
carries the title.

Freshness (0-1): exponential decay with a half-life, mostly by time since release and partly
by time since the title's first offer appeared in the catalog. Search orders equally relevant
titles by popularity, which is quality (on a 0-100 scale) times freshness.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

PRIOR_MEAN = 6.0  # the rating a title with no votes is assumed to have
PRIOR_VOTES = 500  # how many votes the prior weighs as much as
CRITIC_WEIGHT = 0.3  # share of the critics' score when a feed has both
PLATFORM_BONUS = 0.15  # per platform beyond the first
PLATFORM_BONUS_MAX = 0.6
RELEASE_HALF_LIFE_DAYS = 365.0
OFFER_HALF_LIFE_DAYS = 30.0
RELEASE_SHARE = 0.75  # the rest of freshness comes from the age of the first offer


def bayesian_rating(mean: float | None, votes: int | None) -> float:
    """The mean rating shrunk toward PRIOR_MEAN by PRIOR_VOTES pseudo-votes."""
    count = max(votes or 0, 0) if mean is not None else 0
    value = mean if mean is not None else PRIOR_MEAN
    return (count * value + PRIOR_VOTES * PRIOR_MEAN) / (count + PRIOR_VOTES)


def quality_score(
    *,
    audience: float | None,
    votes: int | None,
    critic: float | None,
    platforms: int = 1,
) -> float | None:
    """0-10, or None when the feeds say nothing about reception."""
    if audience is None and critic is None:
        return None
    score = bayesian_rating(audience, votes if audience is not None else 0)
    if critic is not None:
        critic_ten = min(max(critic, 0.0), 100.0) / 10.0
        score = (1 - CRITIC_WEIGHT) * score + CRITIC_WEIGHT * critic_ten
    score += min(PLATFORM_BONUS * max(platforms - 1, 0), PLATFORM_BONUS_MAX)
    return round(min(max(score, 0.0), 10.0), 3)


def _decay(age_days: float, half_life: float) -> float:
    return math.pow(0.5, max(age_days, 0.0) / half_life)


def release_moment(released_at: datetime | None, year: int | None) -> datetime | None:
    if released_at is not None:
        return released_at if released_at.tzinfo else released_at.replace(tzinfo=UTC)
    if year:
        return datetime(year, 7, 1, tzinfo=UTC)  # mid-year when only the year is known
    return None


def freshness(
    released: datetime | None, offered_since: Iterable[datetime], now: datetime | None = None
) -> float:
    """1.0 for a title out today, halving every RELEASE_HALF_LIFE_DAYS; the first offer's age
    (halving every OFFER_HALF_LIFE_DAYS) gives the remaining share. Unknown ages count as old."""
    moment = now or datetime.now(UTC)
    by_release = (
        _decay((moment - released).total_seconds() / 86400, RELEASE_HALF_LIFE_DAYS)
        if released is not None
        else 0.0
    )
    firsts = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in offered_since]
    by_offer = (
        _decay((moment - min(firsts)).total_seconds() / 86400, OFFER_HALF_LIFE_DAYS)
        if firsts
        else 0.0
    )
    return round(RELEASE_SHARE * by_release + (1 - RELEASE_SHARE) * by_offer, 6)


def popularity(quality: float, fresh: float) -> float:
    """On the 0-100 scale of the catalog's popularity."""
    return round(10.0 * quality * fresh, 4)
