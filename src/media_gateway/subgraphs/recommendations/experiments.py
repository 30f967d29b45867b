"""A/B experiments over blend weightings: variants with traffic shares, deterministic
assignment, results per variant with Wilson intervals.

The active experiments are reloaded whenever the model is checked for a newer version, so
every replica serves an experiment a few seconds after any of them started it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.database import Database
from media_gateway.subgraphs.recommendations.models import (
    ExperimentRecord,
    ExposureRecord,
    OutcomeRecord,
)
from media_gateway.subgraphs.recommendations.ranker import BlendWeights
from media_gateway.subgraphs.recommendations.training import TrainingService

BUCKETS = 10_000
OUTCOME_KINDS = ("click", "play", "finish")


class ExperimentError(ValueError):
    """A request about experiments a client can correct."""


@dataclass(frozen=True)
class Variant:
    name: str
    share: float
    weights: BlendWeights = field(default_factory=BlendWeights)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "share": self.share, "weights": self.weights.as_dict()}


@dataclass(frozen=True)
class Experiment:
    id: str
    name: str
    variants: tuple[Variant, ...]
    active: bool = True

    def assign(self, user_id: str) -> Variant:
        """The same member always lands in the same variant (hash of experiment and user)."""
        digest = hashlib.sha256(f"{self.id}:{user_id}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") % BUCKETS
        total = sum(v.share for v in self.variants)
        edge = 0.0
        for variant in self.variants:
            edge += variant.share / total * BUCKETS
            if bucket < edge:
                return variant
        return self.variants[-1]


def variants_json(variants: Sequence[Variant]) -> str:
    return json.dumps([v.as_dict() for v in variants])


def variants_from_json(text: str) -> tuple[Variant, ...]:
    return tuple(
        Variant(
            name=str(v["name"]),
            share=float(v["share"]),
            weights=BlendWeights.from_dict(v.get("weights") or {}),
        )
        for v in json.loads(text)
    )


def validate_variants(variants: Sequence[Variant]) -> str | None:
    """Why these variants cannot form an experiment, or None."""
    if len(variants) < 2:
        return "An experiment needs at least two variants."
    names = [v.name for v in variants]
    if len(set(names)) != len(names) or any(not n.strip() for n in names):
        return "Variant names must be unique and not blank."
    if any(v.share <= 0 or not math.isfinite(v.share) for v in variants):
        return "Every variant needs a positive traffic share."
    return None


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default)."""
    if trials <= 0:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class VariantResult:
    name: str
    share: float
    members: int
    exposures: int
    outcomes: Mapping[str, int]

    def rate(self, kind: str) -> tuple[float, float, float]:
        """(rate, low, high) of ``kind`` outcomes per exposure."""
        count = min(self.outcomes.get(kind, 0), self.exposures)
        rate = count / self.exposures if self.exposures else 0.0
        low, high = wilson_interval(count, self.exposures)
        return rate, low, high


class Exposures(Protocol):
    async def flush_exposures(self) -> int: ...


class ExperimentService:
    def __init__(self, database: Database, training: TrainingService, exposures: Exposures) -> None:
        self.database = database
        self.training = training
        self.exposures = exposures
        self._active: list[Experiment] = []
        training.reload_with_model(self._load_active)

    async def _load_active(self, session: AsyncSession) -> None:
        records = (
            await session.exec(
                select(ExperimentRecord)
                .where(col(ExperimentRecord.active).is_(True))
                .order_by(col(ExperimentRecord.created_at), col(ExperimentRecord.id))
            )
        ).all()
        self._active = [
            Experiment(e.id, e.name, variants_from_json(e.variants), e.active) for e in records
        ]

    def assignment(self, user_id: str) -> tuple[Experiment, Variant] | None:
        """The member's variant in the first active experiment (stable per member)."""
        for experiment in self._active:
            if experiment.active and experiment.variants:
                return experiment, experiment.assign(user_id)
        return None

    async def create(
        self, experiment_id: str, name: str, variants: Sequence[Variant]
    ) -> Experiment:
        problem = validate_variants(variants)
        if problem:
            raise ExperimentError(problem)
        if not experiment_id.strip() or len(experiment_id) > 64:
            raise ExperimentError("An experiment id is 1 to 64 characters.")
        async with self.database.transaction() as session:
            if await session.get(ExperimentRecord, experiment_id) is not None:
                raise ExperimentError(f"Experiment {experiment_id!r} already exists.")
            session.add(
                ExperimentRecord(
                    id=experiment_id, name=name, active=True, variants=variants_json(variants)
                )
            )
        self.training.invalidate()
        await self.training.model()
        return Experiment(experiment_id, name, tuple(variants))

    async def stop(self, experiment_id: str) -> bool:
        async with self.database.transaction() as session:
            record = await session.get(ExperimentRecord, experiment_id)
            if record is None:
                return False
            record.active = False
            session.add(record)
        self.training.invalidate()
        return True

    async def results(self, experiment_id: str) -> tuple[Experiment, list[VariantResult]] | None:
        await self.exposures.flush_exposures()
        async with self.database.session() as session:
            record = await session.get(ExperimentRecord, experiment_id)
            if record is None:
                return None
            exposures = (
                await session.exec(
                    select(
                        ExposureRecord.variant,
                        func.count(),
                        func.count(func.distinct(ExposureRecord.user_id)),
                    )
                    .where(ExposureRecord.experiment_id == experiment_id)
                    .group_by(col(ExposureRecord.variant))
                )
            ).all()
            outcomes = (
                await session.exec(
                    select(OutcomeRecord.variant, OutcomeRecord.kind, func.count())
                    .where(OutcomeRecord.experiment_id == experiment_id)
                    .group_by(col(OutcomeRecord.variant), col(OutcomeRecord.kind))
                )
            ).all()
        experiment = Experiment(
            record.id, record.name, variants_from_json(record.variants), record.active
        )
        served = {v: (int(n), int(m)) for v, n, m in exposures}
        counts: dict[str, dict[str, int]] = {}
        for variant, kind, n in outcomes:
            counts.setdefault(variant, {})[kind] = int(n)
        results = [
            VariantResult(
                name=v.name,
                share=v.share,
                members=served.get(v.name, (0, 0))[1],
                exposures=served.get(v.name, (0, 0))[0],
                outcomes=counts.get(v.name, {}),
            )
            for v in experiment.variants
        ]
        return experiment, results
