"""A/B experiments: variants with traffic shares, deterministic assignment, Wilson intervals."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from media_gateway.subgraphs.recommendations.ranker import BlendWeights

BUCKETS = 10_000
OUTCOME_KINDS = ("click", "play", "finish")


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
