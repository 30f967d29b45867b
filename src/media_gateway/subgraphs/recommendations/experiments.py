"""A/B experiments over blend weightings: variants with traffic shares, deterministic
assignment, results per variant with Wilson intervals and the difference of each variant from
the first (the control) with Newcombe's interval.

An experiment's lifecycle: created as a draft (or started at once), started (served),
stopped (no longer served; may be started again), concluded (for good, with the winning
variant if one was chosen). Every change is written with an audit entry (before and after) in
the same transaction.

The running experiments are reloaded whenever the model is checked for a newer version, so
every replica serves an experiment a few seconds after any of them started it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.audit import record_audit
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.recommendations.models import (
    ExperimentRecord,
    ExposureRecord,
    OutcomeRecord,
)
from media_gateway.subgraphs.recommendations.ranker import BlendWeights
from media_gateway.subgraphs.recommendations.training import TrainingService

BUCKETS = 10_000
OUTCOME_KINDS = ("click", "play", "finish")
DRAFT, RUNNING, STOPPED, CONCLUDED = "draft", "running", "stopped", "concluded"
STATES = (DRAFT, RUNNING, STOPPED, CONCLUDED)
# action -> (the states it may start from, the state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({DRAFT, STOPPED}), RUNNING),
    "stop": (frozenset({RUNNING}), STOPPED),
    "conclude": (frozenset({DRAFT, RUNNING, STOPPED}), CONCLUDED),
}
AUDIT_TARGET = "recommendation_experiment"
_PAST = {"start": "started", "stop": "stopped", "conclude": "concluded"}


class ExperimentError(ValueError):
    """A request about experiments a client can correct."""


class ExperimentStateError(ExperimentError):
    """A change the experiment's state does not allow (starting a concluded one...)."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


class ExperimentNotFound(ExperimentError):
    """No experiment has this id."""


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
    state: str = RUNNING
    created_at: datetime | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    concluded_at: datetime | None = None
    winner: str | None = None

    @classmethod
    def of(cls, record: ExperimentRecord) -> Experiment:
        def utc(value: datetime | None) -> datetime | None:
            return as_utc(value) if value is not None else None

        return cls(
            id=record.id,
            name=record.name,
            variants=variants_from_json(record.variants),
            active=record.active,
            state=record.state,
            created_at=utc(record.created_at),
            started_at=utc(record.started_at),
            stopped_at=utc(record.stopped_at),
            concluded_at=utc(record.concluded_at),
            winner=record.winner,
        )

    def audit_state(self) -> dict[str, Any]:
        """What an audit entry shows of the experiment, before or after a change."""
        return {
            "name": self.name,
            "state": self.state,
            "variants": [v.as_dict() for v in self.variants],
            "winner": self.winner,
        }

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


def difference_interval(
    a: tuple[int, int], b: tuple[int, int], z: float = 1.96
) -> tuple[float, float, float]:
    """(difference, low, high) of the rates b - a, each (successes, trials): Newcombe's hybrid
    score interval (from the two Wilson intervals; 95% by default)."""
    (sa_, na), (sb, nb) = a, b
    pa = sa_ / na if na else 0.0
    pb = sb / nb if nb else 0.0
    la, ua = wilson_interval(sa_, na, z)
    lb, ub = wilson_interval(sb, nb, z)
    if not na or not nb:  # nothing to compare against: the widest interval
        return pb - pa, -1.0, 1.0
    difference = pb - pa
    low = difference - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = difference + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return difference, max(-1.0, low), min(1.0, high)


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

    def trials(self, kind: str) -> tuple[int, int]:
        """(outcomes of ``kind``, exposures), outcomes never counted above exposures."""
        return min(self.outcomes.get(kind, 0), self.exposures), self.exposures


@dataclass(frozen=True)
class Comparison:
    """A variant's rate of ``kind`` against the control's: the difference and its interval."""

    variant: str
    control: str
    kind: str
    difference: float
    low: float
    high: float


def compare(results: Sequence[VariantResult]) -> list[Comparison]:
    """Each variant after the first against the first (the control), for every outcome."""
    if len(results) < 2:
        return []
    control = results[0]
    return [
        Comparison(
            v.name, control.name, kind, *difference_interval(control.trials(kind), v.trials(kind))
        )
        for v in results[1:]
        for kind in OUTCOME_KINDS
    ]


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
        self._active = [Experiment.of(e) for e in records]

    def assignment(self, user_id: str) -> tuple[Experiment, Variant] | None:
        """The member's variant in the first active experiment (stable per member)."""
        for experiment in self._active:
            if experiment.active and experiment.variants:
                return experiment, experiment.assign(user_id)
        return None

    async def create(
        self,
        experiment_id: str,
        name: str,
        variants: Sequence[Variant],
        *,
        actor_id: str | None = None,
        start: bool = False,
    ) -> Experiment:
        """A new experiment, a draft unless ``start``."""
        problem = validate_variants(variants)
        if problem:
            raise ExperimentError(problem)
        if not experiment_id.strip() or len(experiment_id) > 64:
            raise ExperimentError("An experiment id is 1 to 64 characters.")
        if not name.strip() or len(name) > 200:
            raise ExperimentError("An experiment's name is 1 to 200 characters.")
        if any(len(v.name) > 64 for v in variants):
            raise ExperimentError("A variant's name is at most 64 characters.")
        async with self.database.transaction() as session:
            if await session.get(ExperimentRecord, experiment_id) is not None:
                raise ExperimentError(f"Experiment {experiment_id!r} already exists.")
            record = ExperimentRecord(
                id=experiment_id,
                name=name,
                active=False,
                state=DRAFT,
                variants=variants_json(variants),
            )
            session.add(record)
            await session.flush()
            await record_audit(
                session,
                actor_id=actor_id,
                action="experiment.create",
                target_type=AUDIT_TARGET,
                target_id=experiment_id,
                after=Experiment.of(record).audit_state(),
            )
            if start:
                await self._transition(session, record, "start", actor_id)
            experiment = Experiment.of(record)
        if start:
            await self._serve_changes()
        return experiment

    async def _transition(
        self,
        session: AsyncSession,
        record: ExperimentRecord,
        action: str,
        actor_id: str | None,
        winner: str | None = None,
    ) -> None:
        allowed, target = TRANSITIONS[action]
        if record.state not in allowed:
            raise ExperimentStateError(
                f"Experiment {record.id!r} is {record.state}: it cannot be {_PAST[action]}.",
                record.state,
            )
        before = Experiment.of(record).audit_state()
        now = utcnow()
        record.state = target
        record.active = target == RUNNING
        if action == "start":
            record.started_at = now
            record.stopped_at = None
        elif action == "stop":
            record.stopped_at = now
        else:
            record.concluded_at = now
            if record.stopped_at is None and record.started_at is not None:
                record.stopped_at = now
            record.winner = winner
        session.add(record)
        await session.flush()
        await record_audit(
            session,
            actor_id=actor_id,
            action=f"experiment.{action}",
            target_type=AUDIT_TARGET,
            target_id=record.id,
            before=before,
            after=Experiment.of(record).audit_state(),
        )

    async def _change(
        self, experiment_id: str, action: str, actor_id: str | None, winner: str | None = None
    ) -> Experiment:
        async with self.database.transaction() as session:
            record = await session.get(ExperimentRecord, experiment_id)
            if record is None:
                raise ExperimentNotFound(f"No experiment {experiment_id!r}.")
            if winner is not None and winner not in {
                v.name for v in variants_from_json(record.variants)
            }:
                raise ExperimentError(f"{winner!r} is not a variant of {experiment_id!r}.")
            await self._transition(session, record, action, actor_id, winner)
            experiment = Experiment.of(record)
        await self._serve_changes()
        return experiment

    async def _serve_changes(self) -> None:
        """Reload what is served now (other replicas follow with the model check)."""
        self.training.invalidate()
        await self.training.model()

    async def start(self, experiment_id: str, *, actor_id: str | None = None) -> Experiment:
        return await self._change(experiment_id, "start", actor_id)

    async def stop(self, experiment_id: str, *, actor_id: str | None = None) -> Experiment:
        return await self._change(experiment_id, "stop", actor_id)

    async def conclude(
        self, experiment_id: str, *, winner: str | None = None, actor_id: str | None = None
    ) -> Experiment:
        """End the experiment for good, naming the variant kept (if one was chosen)."""
        return await self._change(experiment_id, "conclude", actor_id, winner)

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
        experiment = Experiment.of(record)
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
