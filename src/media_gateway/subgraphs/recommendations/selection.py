"""Serving-time steps after the ranker: context boosts, filters, MMR diversity, reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from media_gateway.platform.ratings import allowed
from media_gateway.subgraphs.recommendations.ranker import BlendWeights, Ranker

MMR_RELEVANCE = 0.8  # 1.0 = no diversity re-ranking
SHORT_RUNTIME_MINUTES = 100
MORNING_GENRES = {"family", "animation", "comedy"}
# the least a watched title must add to a recommendation's blended score (in standard
# deviations of the member's scores) to be named as its reason
EXPLAIN_THRESHOLD = 0.25


@dataclass(frozen=True)
class Features:
    genres: tuple[str, ...] = ()
    title: str | None = None  # the catalog's name for the title
    year: int | None = None
    runtime_minutes: int | None = None
    content_rating: str | None = None
    regions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Audience:
    """Who is watching where: the active profile's rating limit and the viewer's region."""

    region: str | None = None
    max_rating: str | None = None


@dataclass(frozen=True)
class Situation:
    """Request context: time of day, device type and a mood/genre hint."""

    time_of_day: str | None = None  # MORNING | AFTERNOON | EVENING | NIGHT
    device_type: str | None = None  # TV | MOBILE | TABLET | WEB
    genre_hint: str | None = None


@dataclass(frozen=True)
class Scored:
    content_id: str
    score: float
    based_on: str | None  # the watched title contributing most, None for popularity
    kind: str = "WATCHED_SIMILAR"  # WATCHED_SIMILAR | POPULAR | GENRE | TRENDING
    based_on_title: str | None = None  # the catalog's name of ``based_on``, when known


def visible(content_id: str, features: Mapping[str, Features], audience: Audience) -> bool:
    """Region availability and the profile's rating limit (unknown titles fail a limit)."""
    feature = features.get(content_id)
    if audience.max_rating is not None and not allowed(
        feature.content_rating if feature else None, audience.max_rating
    ):
        return False
    if audience.region and feature is not None and feature.regions:
        return audience.region.upper() in feature.regions
    return True


def situational_boost(
    ranker: Ranker, features: Mapping[str, Features], situation: Situation
) -> np.ndarray | None:
    """Additive (z-score units) boosts from the request context, or None for no context."""
    if not (situation.genre_hint or situation.device_type or situation.time_of_day):
        return None
    hint, short, morning = boost_key(situation)
    boost = np.zeros(ranker.size, dtype=np.float32)
    for i, item in enumerate(ranker.items):
        feature = features.get(item)
        if feature is None:
            continue
        genres = {g.lower() for g in feature.genres}
        if hint and hint in genres:
            boost[i] += 1.5
        if short and feature.runtime_minutes and feature.runtime_minutes <= SHORT_RUNTIME_MINUTES:
            boost[i] += 0.3
        if morning and genres & MORNING_GENRES:
            boost[i] += 0.3
    return boost


def boost_key(situation: Situation) -> tuple[str, bool, bool]:
    """What the boost depends on: (genre hint, prefers short titles, morning)."""
    hint = (situation.genre_hint or "").strip().lower()
    short = (situation.device_type or "").upper() == "MOBILE" or (
        (situation.time_of_day or "").upper() == "NIGHT"
    )
    morning = (situation.time_of_day or "").upper() == "MORNING"
    return hint, short, morning


def mmr(ranker: Ranker, candidates: Sequence[int], scores: np.ndarray, first: int) -> list[int]:
    """Maximal marginal relevance over content similarity: relevance vs. sameness."""
    if len(candidates) <= 1 or MMR_RELEVANCE >= 1.0:
        return list(candidates)[:first]
    pool = np.asarray(candidates)
    relevance = scores[pool].astype(np.float64)
    spread = relevance.max() - relevance.min()
    relevance = (relevance - relevance.min()) / spread if spread > 0 else np.ones_like(relevance)
    similarity = ranker.content[np.ix_(pool, pool)]
    chosen: list[int] = []
    max_similarity = np.zeros(len(pool))
    available = np.ones(len(pool), dtype=bool)
    while len(chosen) < min(first, len(pool)):
        value = MMR_RELEVANCE * relevance - (1 - MMR_RELEVANCE) * max_similarity
        value[~available] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        available[pick] = False
        max_similarity = np.maximum(max_similarity, similarity[pick])
    return [int(pool[k]) for k in chosen]


def explain_many(
    ranker: Ranker,
    history: Sequence[str],
    items: Sequence[int],
    *,
    weights: BlendWeights | None = None,
    feedback: Mapping[str, float] | None = None,
) -> list[str | None]:
    """For each recommended title, the watched title that contributed most to its score
    (``Ranker.contributions``), when that contribution is at least ``EXPLAIN_THRESHOLD``;
    only titles the member liked (a positive grade) can be the reason."""
    watched, contribution = ranker.contributions(history, items, weights, feedback)
    if not len(watched) or not len(items):
        return [None] * len(items)
    liked = np.array(
        [(feedback or {}).get(ranker.items[int(i)], 1.0) > 0 for i in watched.tolist()]
    )
    contribution = np.where(liked[:, None], contribution, -np.inf)
    best = np.argmax(contribution, axis=0)
    return [
        ranker.items[int(watched[b])] if contribution[b, k] >= EXPLAIN_THRESHOLD else None
        for k, b in enumerate(best.tolist())
    ]


def ranked(scores: np.ndarray, needed: int) -> np.ndarray:
    """Indices of the ``needed`` best scores, best first (ties by index): a partial sort."""
    n = len(scores)
    top = np.arange(n) if needed >= n else np.argpartition(-scores, needed - 1)[:needed]
    return top[np.lexsort((top, -scores[top]))]
