"""Serving: recommendations for a viewing profile, similar titles and trending ones.

Serving reads the viewing profile's history at request time, so a newly finished title
changes the next answer at once (EASE's fold-in is exact: the member vector is the history
row). Each profile of an account has a history of its own (``media_gateway.auth.profiles``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import sqlalchemy as sa
from sqlmodel import col, func, select

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.recommendations.experiments import ExperimentService
from media_gateway.subgraphs.recommendations.exposures import ExposureService
from media_gateway.subgraphs.recommendations.feedback import History, graded
from media_gateway.subgraphs.recommendations.models import InteractionRecord
from media_gateway.subgraphs.recommendations.ranker import BlendWeights, Ranker
from media_gateway.subgraphs.recommendations.selection import (
    Audience,
    Features,
    Scored,
    Situation,
    boost_key,
    explain_many,
    mmr,
    ranked,
    situational_boost,
    visible,
)
from media_gateway.subgraphs.recommendations.training import TrainingService

WINDOWS = {"DAY": 1.0, "WEEK": 7.0, "MONTH": 30.0}
MAX_CACHED_BOOSTS = 256


@dataclass(frozen=True)
class Served:
    items: list[Scored]
    experiment_id: str | None = None
    variant: str | None = None


class ServingService:
    def __init__(
        self,
        database: Database,
        training: TrainingService,
        experiments: ExperimentService,
        exposures: ExposureService,
    ) -> None:
        self.database = database
        self.training = training
        self.experiments = experiments
        self.exposures = exposures
        # context boosts, computed once per model, features and context, then reused
        self._boosts: dict[tuple[str, bool, bool], np.ndarray | None] = {}
        self._boosts_for: tuple[Ranker, dict[str, Features]] | None = None

    @property
    def features(self) -> dict[str, Features]:
        return self.training.features

    async def history(self, user_id: str, *, profile_id: str = DEFAULT_PROFILE) -> History:
        """The profile's titles, oldest first (each once, at its latest interaction), with
        their grades (ratings, dislikes, finished or abandoned playbacks)."""
        return (await self.histories([(user_id, profile_id)]))[0]

    async def histories(self, owners: Sequence[tuple[str, str]]) -> list[History]:
        """``history`` for several (account, profile) pairs in one query."""
        wanted = list(dict.fromkeys(owners))
        rows: dict[tuple[str, str], list[tuple[str, float, str]]] = {o: [] for o in wanted}
        if wanted:
            table = InteractionRecord.__table__.c  # type: ignore[attr-defined]
            statement = (
                sa.select(
                    table.user_id, table.profile_id, table.content_id, table.weight, table.source
                )
                .where(table.user_id.in_({u for u, _ in wanted}))
                .order_by(table.occurred_at, table.id)
            )
            async with self.database.session() as session:
                result = await (await session.connection()).execute(statement)
                for user_id, profile_id, content_id, weight, source in result.all():
                    found = rows.get((user_id, profile_id))
                    if found is not None:  # else another profile of the account
                        found.append((content_id, float(weight), source))
        histories = {}
        for owner, interactions in rows.items():
            ordered: dict[str, None] = {}
            for content_id, _weight, _source in interactions:
                ordered.pop(content_id, None)
                ordered[content_id] = None
            histories[owner] = History(tuple(ordered), graded(interactions))
        return [histories[o] for o in owners]

    def rank(
        self,
        ranker: Ranker,
        history: Sequence[str],
        first: int,
        audience: Audience,
        *,
        weights: BlendWeights | None = None,
        situation: Situation | None = None,
        only: Callable[[str], bool] | None = None,
        exclude: set[str] | None = None,
        diversify: bool = True,
        feedback: Mapping[str, float] | None = None,
    ) -> list[Scored]:
        """The ``first`` best titles for ``history`` that ``audience`` may see, best first;
        ``feedback`` grades the history's titles (negative: counts against neighbours)."""
        if ranker.size == 0 or first <= 0:
            return []
        scores, _parts = ranker.score(history, weights, feedback)
        cold = not any(c in ranker.index for c in history)
        if situation is not None:
            boost = self._boost(ranker, situation)
            if boost is not None:  # boosts are in units of the score's top spread
                spread = float(scores.max() - scores.mean()) or 1.0
                scores = scores + boost * (spread / 2.0)
        banned = set(history) | (exclude or set())
        features = self.features
        wanted = first * 4
        candidates: list[int] = []
        # Only the best few scores are sorted; the window widens when filters reject many.
        window = min(ranker.size, wanted + len(banned) + 64)
        start = 0
        while True:
            order = ranked(scores, window)
            for i in order[start:].tolist():
                item = ranker.items[i]
                if item in banned or not visible(item, features, audience):
                    continue
                if only is not None and not only(item):
                    continue
                candidates.append(i)
                if len(candidates) >= wanted:
                    break
            if len(candidates) >= wanted or window >= ranker.size:
                break
            start, window = window, min(ranker.size, window * 4)
        picked = mmr(ranker, candidates, scores, first) if diversify else candidates[:first]
        # diversity chooses which titles make the list; the list itself is in score order
        picked.sort(key=lambda i: -float(scores[i]))
        reasons: list[str | None] = (
            [None] * len(picked)
            if cold
            else explain_many(
                ranker, history, picked, weights=weights or ranker.config.weights, feedback=feedback
            )
        )
        results = []
        for i, based_on in zip(picked, reasons, strict=True):
            kind = "POPULAR" if cold else "WATCHED_SIMILAR"
            named = features.get(based_on) if based_on else None
            results.append(
                Scored(
                    ranker.items[i],
                    float(scores[i]),
                    based_on,
                    kind,
                    named.title if named is not None else None,
                )
            )
        return results

    def _boost(self, ranker: Ranker, situation: Situation) -> np.ndarray | None:
        """The context boost, computed once per model and context, then reused."""
        current, features = self.training.ranker, self.features
        if ranker is not current:
            return situational_boost(ranker, features, situation)
        basis = self._boosts_for
        if basis is None or basis[0] is not current or basis[1] is not features:
            self._boosts, self._boosts_for = {}, (current, features)
        key = boost_key(situation)
        if key not in self._boosts:
            if len(self._boosts) >= MAX_CACHED_BOOSTS:
                self._boosts.clear()
            self._boosts[key] = situational_boost(ranker, features, situation)
        return self._boosts[key]

    async def recommend(
        self,
        user_id: str,
        first: int,
        audience: Audience,
        situation: Situation | None = None,
        history: History | None = None,
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> Served:
        """For the profile; ``history`` when the caller already read it (the dataloader)."""
        ranker = await self.training.model()
        if history is None:
            history = await self.history(user_id, profile_id=profile_id)
        assigned = self.experiments.assignment(user_id)
        weights = assigned[1].weights if assigned else None
        items = self.rank(
            ranker,
            history.titles,
            first,
            audience,
            weights=weights,
            situation=situation,
            feedback=history.grades,
        )
        if assigned is None or not items:
            return Served(items)
        experiment, variant = assigned
        served_at = utcnow()
        self.exposures.queue(
            {
                "experiment_id": experiment.id,
                "variant": variant.name,
                "user_id": user_id,
                "content_id": s.content_id,
                "position": k,
                "served_at": served_at,
            }
            for k, s in enumerate(items)
        )
        return Served(items, experiment.id, variant.name)

    async def similar(self, content_ids: Sequence[tuple[str, int]]) -> list[list[Scored]]:
        """For each (title, how many): titles viewers of it watched next or alongside it."""
        ranker = await self.training.model()
        out: list[list[Scored]] = []
        for content_id, first in content_ids:
            i = ranker.index.get(content_id)
            if i is None or first <= 0:
                out.append([])
                continue
            scores = (
                ranker.ease[i].astype(np.float64)
                + ranker.transitions[i]
                + 0.05 * ranker.content[i]
                + 1e-3 * ranker.popularity
            )
            scores[i] = -np.inf
            order = np.argsort(-scores, kind="stable")[:first]
            out.append(
                [
                    Scored(ranker.items[j], float(scores[j]), content_id)
                    for j in order
                    if np.isfinite(scores[j]) and scores[j] > 1e-3
                ]
            )
        return out

    async def trending(
        self,
        first: int,
        region: str | None = None,
        window: str = "WEEK",
        audience: Audience | None = None,
        exclude: set[str] | None = None,
    ) -> list[Scored]:
        """Most watched in the window (in the region when given), topped up by popularity."""
        ranker = await self.training.model()
        features = self.features
        audience = audience or Audience(region=region)
        if region and not audience.region:
            audience = Audience(region=region, max_rating=audience.max_rating)
        since = utcnow() - timedelta(days=WINDOWS.get(window, 7.0))
        async with self.database.session() as session:
            counted = (
                await session.exec(
                    select(InteractionRecord.content_id, func.count())
                    .where(col(InteractionRecord.occurred_at) >= since)
                    .group_by(col(InteractionRecord.content_id))
                    .order_by(func.count().desc(), col(InteractionRecord.content_id))
                    .limit(max(200, first * 10))
                )
            ).all()
        banned = exclude or set()
        results: list[Scored] = []
        for content_id, count in counted:
            if content_id in banned or not visible(content_id, features, audience):
                continue
            results.append(Scored(content_id, float(count), None, "TRENDING"))
            if len(results) >= first:
                return results
        taken = {s.content_id for s in results}
        for i in ranker.popularity_order:
            item = ranker.items[int(i)]
            if item in taken or item in banned or not visible(item, features, audience):
                continue
            results.append(Scored(item, float(ranker.popularity[int(i)]), None, "TRENDING"))
            if len(results) >= first:
                break
        return results
