"""Recommendations: interactions, item features, trained ranker versions, experiments.

Serving reads the viewing profile's history at request time, so a newly finished title
changes the next answer at once (EASE's fold-in is exact: the member vector is the history
row). Each profile of an account has a history of its own (``media_gateway.auth.profiles``). Full
retraining (``train``) writes a new model version to storage; every replica checks for a
newer version every few seconds and loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlmodel import col, delete, func, select

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.platform.embeddings import Embedder, HashingEmbedder
from media_gateway.platform.events import Event
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.recommendations.experiments import (
    OUTCOME_KINDS,
    Experiment,
    Variant,
    VariantResult,
    validate_variants,
    variants_from_json,
    variants_json,
)
from media_gateway.subgraphs.recommendations.models import (
    ExperimentRecord,
    ExposureRecord,
    InteractionRecord,
    ItemFeaturesRecord,
    ModelArtifactRecord,
    OutcomeRecord,
)
from media_gateway.subgraphs.recommendations.ranker import (
    BlendWeights,
    Interaction,
    ItemFeatures,
    Ranker,
    RankerConfig,
    item_text,
)
from media_gateway.subgraphs.recommendations.serving import (
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

log = logging.getLogger(__name__)

FRESHNESS_CHECK_SECONDS = 2.0
EXPOSURE_FLUSH_SECONDS = 0.5  # served recommendations are written in batches off the request
MAX_PENDING_EXPOSURES = 50_000
RETRAIN_INTERVAL_SECONDS = 3600.0
DEMO_VIEWERS = 300
WINDOWS = {"DAY": 1.0, "WEEK": 7.0, "MONTH": 30.0}


class ExperimentError(ValueError):
    """A request about experiments a client can correct."""


@dataclass(frozen=True)
class Served:
    items: list[Scored]
    experiment_id: str | None = None
    variant: str | None = None


@dataclass(frozen=True)
class Row:
    key: str
    title: str
    reason: str
    kind: str  # TOP_PICKS | BECAUSE_YOU_WATCHED | TRENDING | GENRE | POPULAR
    items: list[Scored]
    based_on: str | None = None
    genre: str | None = None


def _serialize(ranker: Ranker) -> bytes:
    buffer = io.BytesIO()
    arrays = {k: v for k, v in ranker.arrays().items() if k != "items"}
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _deserialize(record: ModelArtifactRecord) -> Ranker:
    with np.load(io.BytesIO(record.artifact), allow_pickle=False) as data:
        arrays: dict[str, Any] = {k: data[k] for k in data.files}
    arrays["items"] = np.array(json.loads(record.items), dtype=object)
    raw = json.loads(record.config)
    weights = BlendWeights.from_dict(raw.pop("weights", {}))
    config = RankerConfig(**raw, weights=weights)
    return Ranker.from_arrays(arrays, config).warm()


def _member(record: InteractionRecord) -> str:
    """Whom an interaction counts for in training: each viewing profile is a member."""
    if record.profile_id == DEFAULT_PROFILE:
        return record.user_id
    return f"{record.user_id}/{record.profile_id}"


class RecommendationService:
    def __init__(
        self,
        database: Database,
        config: RankerConfig | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.database = database
        self.config = config or RankerConfig()
        self.embedder: Embedder = embedder or HashingEmbedder()
        self._ranker = Ranker.empty(self.config)
        self._version: int | None = None
        self._features: dict[str, Features] = {}
        self._experiments: list[Experiment] = []
        self._features_marker: tuple[Any, ...] | None = None
        self._boosts: dict[tuple[str, bool, bool], np.ndarray | None] = {}
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._exposures: list[dict[str, Any]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self.trainings = 0  # models this service has trained (a start that reloads trains none)

    # -- model versions -----------------------------------------------------------------------
    @property
    def version(self) -> int | None:
        return self._version

    async def model(self) -> Ranker:
        """The newest stored model (checked every few seconds; loaded when it changed).

        A periodic check runs in the background while requests keep the current model; after
        ``invalidate`` (this replica changed something) the next call waits for the reload.
        """
        if time.monotonic() - self._checked_at < FRESHNESS_CHECK_SECONDS:
            return self._ranker
        if self._checked_at == 0.0:
            await self._refresh_now()
        elif self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh_in_background())
        return self._ranker

    async def _refresh_now(self) -> None:
        async with self._lock:
            if time.monotonic() - self._checked_at >= FRESHNESS_CHECK_SECONDS:
                await self._refresh()
                self._checked_at = time.monotonic()

    async def _refresh_in_background(self) -> None:
        try:
            await self._refresh_now()
        except Exception:  # the next check tries again; requests keep the current model
            log.exception("checking for a newer recommender model failed")

    async def _refresh(self) -> None:
        async with self.database.session() as session:
            newest = (await session.exec(select(func.max(ModelArtifactRecord.version)))).one()
            if newest is not None and newest != self._version:
                record = await session.get(ModelArtifactRecord, newest)
                if record is not None:
                    self._ranker = await asyncio.to_thread(_deserialize, record)
                    self._version = int(newest)
                    self._boosts = {}
                    log.info("loaded a recommender model", extra={"version": newest})
            marker = tuple(
                (
                    await session.exec(
                        select(func.count(), func.max(ItemFeaturesRecord.updated_at))
                    )
                ).one()
            )
            features = (
                (await session.exec(select(ItemFeaturesRecord))).all()
                if marker != self._features_marker
                else None
            )
            experiments = (
                await session.exec(
                    select(ExperimentRecord)
                    .where(col(ExperimentRecord.active).is_(True))
                    .order_by(col(ExperimentRecord.created_at), col(ExperimentRecord.id))
                )
            ).all()
        if features is not None:
            self._features = {
                f.content_id: Features(
                    genres=tuple(g for g in f.genres.split("|") if g),
                    year=f.year,
                    runtime_minutes=f.runtime_minutes,
                    content_rating=f.content_rating,
                    regions=frozenset(r for r in f.regions.split(",") if r),
                )
                for f in features
            }
            self._features_marker = marker
            self._boosts = {}
        self._experiments = [
            Experiment(e.id, e.name, variants_from_json(e.variants), e.active) for e in experiments
        ]

    def invalidate(self) -> None:
        self._checked_at = 0.0

    async def ensure_model(self) -> None:
        """At start: load the newest stored model, or train the first one when there is none.

        A stored model is served as it is; interactions that arrived since it was trained are
        folded in at request time and reach a new version at the scheduled retrain.
        """
        await self.sync_item_features()
        self.invalidate()
        await self.model()
        if self._version is None and not await self.is_empty():
            await self.train()
        elif self._version is not None:
            log.info("reloaded the stored recommender model", extra={"version": self._version})

    async def retrain_if_changed(self) -> int | None:
        """The scheduled retrain: a new version when interactions arrived since the last."""
        async with self.database.session() as session:
            trained = (
                await session.exec(
                    select(ModelArtifactRecord.interactions)
                    .order_by(col(ModelArtifactRecord.version).desc())
                    .limit(1)
                )
            ).first()
        count = await self._interaction_count()
        if trained is not None and trained == count:
            return None
        return await self.train()

    async def train(self, progress: Callable[[str], None] | None = None) -> int:
        """Fit every component on all interactions and store the result as a new version."""
        started = time.perf_counter()
        await self.sync_item_features()
        async with self.database.session() as session:
            result = await session.exec(select(InteractionRecord))
            rows = [
                Interaction(_member(r), r.content_id, r.weight, as_utc(r.occurred_at))
                for r in result.all()
            ]
            features = {
                f.content_id: ItemFeatures(tuple(g for g in f.genres.split("|") if g), f.year)
                for f in (await session.exec(select(ItemFeaturesRecord))).all()
            }
        texts = await self._item_texts()
        features = {k: replace(v, text=texts[k]) if k in texts else v for k, v in features.items()}
        watched = {r.content_id for r in rows}
        features = {k: v for k, v in features.items() if k in watched or len(features) < 6000}
        ranker = await asyncio.to_thread(
            Ranker.fit,
            rows,
            now=utcnow(),
            features=features,
            config=self.config,
            progress=progress,
            embedder=self.embedder,
        )
        await asyncio.to_thread(ranker.warm)
        seconds = time.perf_counter() - started
        config = asdict(self.config)
        record = ModelArtifactRecord(
            config=json.dumps(config),
            items=json.dumps(ranker.items),
            artifact=await asyncio.to_thread(_serialize, ranker),
            interactions=len(rows),
            train_seconds=round(seconds, 3),
        )
        async with self.database.transaction() as session:
            session.add(record)
            await session.flush()
            version = int(record.version or 0)
        self._ranker, self._version, self._boosts = ranker, version, {}
        self.trainings += 1
        self.invalidate()
        log.info(
            "trained the recommender",
            extra={
                "version": version,
                "interactions": len(rows),
                "items": ranker.size,
                "seconds": round(seconds, 3),
            },
        )
        return version

    async def prune_versions(self, keep: int = 3) -> None:
        async with self.database.transaction() as session:
            versions = (
                await session.exec(
                    select(ModelArtifactRecord.version)
                    .order_by(col(ModelArtifactRecord.version).desc())
                    .offset(keep)
                )
            ).all()
            if versions:
                await session.exec(
                    delete(ModelArtifactRecord).where(
                        col(ModelArtifactRecord.version).in_(versions)
                    )
                )

    # -- item features (the recommender's copy of catalog metadata) --------------------------
    async def sync_item_features(self) -> int:
        """Copy genres, year, runtime, rating and offer regions from the catalog's tables."""
        from media_gateway.subgraphs.catalog.models import (
            AvailabilityRecord,
            ContentGenreRecord,
            ContentRecord,
        )

        async with self.database.session() as session:
            try:
                contents = (
                    await session.exec(
                        select(
                            ContentRecord.id,
                            ContentRecord.year,
                            ContentRecord.runtime_minutes,
                            ContentRecord.content_rating,
                        ).where(col(ContentRecord.kind).in_(("movie", "series")))
                    )
                ).all()
                genres = (await session.exec(select(ContentGenreRecord))).all()
                offers = (
                    await session.exec(
                        select(AvailabilityRecord.content_id, AvailabilityRecord.region)
                    )
                ).all()
            except Exception:  # the catalog's tables live elsewhere: keep what we have
                log.warning("catalog tables not readable; item features unchanged")
                return 0
        by_genre: dict[str, list[str]] = {}
        for g in genres:
            by_genre.setdefault(g.content_id, []).append(g.genre)
        by_region: dict[str, set[str]] = {}
        for content_id, region in offers:
            by_region.setdefault(content_id, set()).add(region.upper())
        now = utcnow()
        records = [
            {
                "content_id": cid,
                "genres": "|".join(sorted(by_genre.get(cid, [])))[:500],
                "year": year,
                "runtime_minutes": runtime,
                "content_rating": rating,
                "regions": ",".join(sorted(by_region.get(cid, set())))[:1000],
                "updated_at": now,
            }
            for cid, year, runtime, rating in contents
        ]
        if not records:
            return 0
        async with self.database.transaction() as session:
            await session.exec(delete(ItemFeaturesRecord))
            connection = await session.connection()
            for start in range(0, len(records), 2000):
                await connection.execute(insert(ItemFeaturesRecord), records[start : start + 2000])
        self.invalidate()
        return len(records)

    async def _item_texts(self) -> dict[str, str]:
        """Title, genres and synopsis of every catalog title, what the embedder reads (empty
        when the catalog's tables are not readable from here)."""
        from media_gateway.subgraphs.catalog.models import ContentGenreRecord, ContentRecord

        async with self.database.session() as session:
            try:
                contents = (
                    await session.exec(
                        select(ContentRecord.id, ContentRecord.title, ContentRecord.synopsis).where(
                            col(ContentRecord.kind).in_(("movie", "series"))
                        )
                    )
                ).all()
                genres = (await session.exec(select(ContentGenreRecord))).all()
            except Exception:  # the catalog's tables live elsewhere: no text signal
                log.warning("catalog tables not readable; titles are not embedded")
                return {}
        by_genre: dict[str, list[str]] = {}
        for g in genres:
            by_genre.setdefault(g.content_id, []).append(g.genre)
        return {
            cid: item_text(title, sorted(by_genre.get(cid, [])), synopsis)
            for cid, title, synopsis in contents
        }

    # -- reading ------------------------------------------------------------------------------
    async def _interaction_count(self) -> int:
        async with self.database.session() as session:
            count = (await session.exec(select(func.count()).select_from(InteractionRecord))).one()
        return int(count or 0)

    async def is_empty(self) -> bool:
        return await self._interaction_count() == 0

    async def history(self, user_id: str, *, profile_id: str = DEFAULT_PROFILE) -> list[str]:
        """The profile's titles, oldest first (each once, at its latest interaction)."""
        return (await self.histories([(user_id, profile_id)]))[0]

    async def histories(self, owners: Sequence[tuple[str, str]]) -> list[list[str]]:
        """``history`` for several (account, profile) pairs in one query."""
        wanted = list(dict.fromkeys(owners))
        ordered: dict[tuple[str, str], dict[str, None]] = {o: {} for o in wanted}
        if wanted:
            async with self.database.session() as session:
                result = await session.exec(
                    select(
                        InteractionRecord.user_id,
                        InteractionRecord.profile_id,
                        InteractionRecord.content_id,
                    )
                    .where(col(InteractionRecord.user_id).in_({u for u, _ in wanted}))
                    .order_by(col(InteractionRecord.occurred_at), col(InteractionRecord.id))
                )
                for user_id, profile_id, content_id in result.all():
                    titles = ordered.get((user_id, profile_id))
                    if titles is None:  # another profile of the account
                        continue
                    titles.pop(content_id, None)
                    titles[content_id] = None
        return [list(ordered[o]) for o in owners]

    def assignment(self, user_id: str) -> tuple[Experiment, Variant] | None:
        """The member's variant in the first active experiment (stable per member)."""
        for experiment in self._experiments:
            if experiment.active and experiment.variants:
                return experiment, experiment.assign(user_id)
        return None

    def _rank(
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
    ) -> list[Scored]:
        if ranker.size == 0 or first <= 0:
            return []
        scores, _parts = ranker.score(history, weights)
        cold = not any(c in ranker.index for c in history)
        if situation is not None:
            boost = self._boost(ranker, situation)
            if boost is not None:  # boosts are in units of the score's top spread
                spread = float(scores.max() - scores.mean()) or 1.0
                scores = scores + boost * (spread / 2.0)
        banned = set(history) | (exclude or set())
        wanted = first * 4
        candidates: list[int] = []
        # Only the best few scores are sorted; the window widens when filters reject many.
        window = min(ranker.size, wanted + len(banned) + 64)
        start = 0
        while True:
            order = ranked(scores, window)
            for i in order[start:].tolist():
                item = ranker.items[i]
                if item in banned or not visible(item, self._features, audience):
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
        reasons = [None] * len(picked) if cold else explain_many(ranker, history, picked)
        results = []
        for i, based_on in zip(picked, reasons, strict=True):
            kind = "WATCHED_SIMILAR" if based_on else "POPULAR"
            results.append(Scored(ranker.items[i], float(scores[i]), based_on, kind))
        return results

    def _boost(self, ranker: Ranker, situation: Situation) -> np.ndarray | None:
        """The context boost, computed once per model and context, then reused."""
        key = boost_key(situation)
        if key not in self._boosts or ranker is not self._ranker:
            boost = situational_boost(ranker, self._features, situation)
            if ranker is not self._ranker:
                return boost
            if len(self._boosts) >= 256:
                self._boosts.clear()
            self._boosts[key] = boost
        return self._boosts[key]

    async def recommend(
        self,
        user_id: str,
        first: int,
        audience: Audience,
        situation: Situation | None = None,
        history: Sequence[str] | None = None,
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> Served:
        """For the profile; ``history`` (oldest first) when the caller already read it (the
        dataloader)."""
        ranker = await self.model()
        if history is None:
            history = await self.history(user_id, profile_id=profile_id)
        assigned = self.assignment(user_id)
        weights = assigned[1].weights if assigned else None
        items = self._rank(ranker, history, first, audience, weights=weights, situation=situation)
        if assigned is None or not items:
            return Served(items)
        experiment, variant = assigned
        served_at = utcnow()
        self._queue_exposures(
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

    # -- exposure log (batched, written off the request path) --------------------------------
    def _queue_exposures(self, rows: Iterable[dict[str, Any]]) -> None:
        self._exposures.extend(rows)
        if len(self._exposures) > MAX_PENDING_EXPOSURES:  # storage is down: keep the newest
            dropped = len(self._exposures) - MAX_PENDING_EXPOSURES
            del self._exposures[:dropped]
            log.warning("dropped unwritten exposures", extra={"exposures": dropped})
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(EXPOSURE_FLUSH_SECONDS)
        try:
            await self.flush_exposures()
        except Exception:  # kept in the queue; the next batch tries again
            log.exception("writing recommendation exposures failed")

    async def flush_exposures(self) -> int:
        """Write every queued exposure (one transaction); readers of exposures call this."""
        async with self._flush_lock:
            rows, self._exposures = self._exposures, []
            if not rows:
                return 0
            try:
                async with self.database.transaction() as session:
                    connection = await session.connection()
                    for start in range(0, len(rows), 2000):
                        await connection.execute(insert(ExposureRecord), rows[start : start + 2000])
            except BaseException:
                self._exposures[:0] = rows
                raise
        return len(rows)

    async def close(self) -> None:
        """Stop background work and write what is still queued."""
        for task in (self._refreshing, self._flushing):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        try:
            await self.flush_exposures()
        except Exception:
            log.exception("writing recommendation exposures at shutdown failed")

    async def rows(
        self,
        user_id: str,
        audience: Audience,
        per_row: int,
        situation: Situation | None = None,
        history: Sequence[str] | None = None,
        *,
        profile_id: str = DEFAULT_PROFILE,
    ) -> list[Row]:
        """The profile's home-screen rows, each with a reason a client can show."""
        ranker = await self.model()
        if history is None:
            history = await self.history(user_id, profile_id=profile_id)
        known = [c for c in history if c in ranker.index]
        rows: list[Row] = []
        used: set[str] = set()

        def add(row: Row) -> None:
            if row.items:
                rows.append(row)
                used.update(s.content_id for s in row.items)

        if known:
            add(
                Row(
                    "top-picks",
                    "Top picks for you",
                    "Picked from everything you watched",
                    "TOP_PICKS",
                    self._rank(ranker, history, per_row, audience, situation=situation),
                )
            )
            for anchor in list(reversed(known))[:2]:
                items = self._rank(ranker, [anchor], per_row, audience, exclude=set(history) | used)
                title = self._title_hint(anchor)
                add(
                    Row(
                        f"because:{anchor}",
                        f"Because you watched {title}",
                        f"Viewers who watched {title} went on to watch these",
                        "BECAUSE_YOU_WATCHED",
                        [Scored(s.content_id, s.score, anchor, "WATCHED_SIMILAR") for s in items],
                        based_on=anchor,
                    )
                )
            genre = self._favourite_genre(known)
            if genre:
                items = self._rank(
                    ranker,
                    history,
                    per_row,
                    audience,
                    only=self._in_genre(genre),
                    exclude=used,
                )
                add(
                    Row(
                        f"genre:{genre}",
                        f"Continue exploring {genre}",
                        f"You watch a lot of {genre}",
                        "GENRE",
                        [Scored(s.content_id, s.score, s.based_on, "GENRE") for s in items],
                        genre=genre,
                    )
                )
        trending = await self.trending(
            per_row, audience.region, "WEEK", audience, exclude=set(history)
        )
        where = f" in {audience.region.upper()}" if audience.region else ""
        add(
            Row(
                "trending",
                f"Trending{where}",
                f"What viewers{where or ' everywhere'} are watching this week",
                "TRENDING",
                trending,
            )
        )
        if not known:  # cold start: popular titles per genre
            counts: dict[str, int] = {}
            for item in ranker.items[:200]:
                for g in self._genres(item):
                    counts[g] = counts.get(g, 0) + 1
            for genre in sorted(counts, key=lambda g: (-counts[g], g))[:2]:
                items = self._rank(
                    ranker,
                    [],
                    per_row,
                    audience,
                    only=self._in_genre(genre),
                    exclude=used,
                )
                add(
                    Row(
                        f"popular:{genre}",
                        f"Popular in {genre}",
                        f"Start with the {genre} titles viewers love",
                        "POPULAR",
                        items,
                        genre=genre,
                    )
                )
        return rows

    def _in_genre(self, genre: str) -> Callable[[str], bool]:
        return lambda content_id: genre in self._genres(content_id)

    def _genres(self, content_id: str) -> tuple[str, ...]:
        feature = self._features.get(content_id)
        return feature.genres if feature else ()

    def _title_hint(self, content_id: str) -> str:
        """A readable title from a content id ("movie:the-matrix-1999" -> "The Matrix")."""
        slug = content_id.split(":", 1)[-1]
        words = slug.split("-")
        feature = self._features.get(content_id)
        if feature and feature.year and words and words[-1] == str(feature.year):
            words = words[:-1]
        return " ".join(w.capitalize() if k == 0 or len(w) > 3 else w for k, w in enumerate(words))

    def _favourite_genre(self, history: Sequence[str]) -> str | None:
        counts: dict[str, float] = {}
        for k, item in enumerate(history):
            for g in self._genres(item):
                counts[g] = counts.get(g, 0.0) + 1.0 + k / max(1, len(history))
        return max(counts, key=lambda g: (counts[g], g)) if counts else None

    async def similar(self, content_ids: Sequence[tuple[str, int]]) -> list[list[Scored]]:
        ranker = await self.model()
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
        ranker = await self.model()
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
            if content_id in banned or not visible(content_id, self._features, audience):
                continue
            results.append(Scored(content_id, float(count), None, "TRENDING"))
            if len(results) >= first:
                return results
        taken = {s.content_id for s in results}
        for i in ranker.popularity_order:
            item = ranker.items[int(i)]
            if item in taken or item in banned or not visible(item, self._features, audience):
                continue
            results.append(Scored(item, float(ranker.popularity[int(i)]), None, "TRENDING"))
            if len(results) >= first:
                break
        return results

    # -- learning -----------------------------------------------------------------------------
    async def record(self, rows: Sequence[InteractionRecord]) -> None:
        async with self.database.transaction() as session:
            session.add_all(rows)

    async def on_playback_event(self, event: Event) -> None:
        """Learn from finished (or substantially watched) playbacks; log experiment outcomes."""
        payload = event.payload
        kind = payload.get("type")
        key = f"{payload.get('sessionId')}:{kind}:{payload.get('occurredAt')}"
        if key in self._seen_events:  # the same event from the bus and from Kafka
            return
        self._seen_events[key] = None
        while len(self._seen_events) > 10_000:
            self._seen_events.popitem(last=False)
        user_id, content_id = payload.get("userId"), payload.get("contentId")
        if not user_id or not content_id:
            return
        if kind == "started":
            await self.record_outcome(str(user_id), str(content_id), "play", quiet=True)
            return
        if kind != "ended":
            return
        position = int(payload.get("positionSeconds") or 0)
        completed = bool(payload.get("completed"))
        if not completed and position < 600:
            return
        await self.record(
            [
                InteractionRecord(
                    user_id=str(user_id),
                    profile_id=str(payload.get("profileId") or DEFAULT_PROFILE),
                    content_id=str(content_id),
                    weight=1.0 if completed else 0.5,
                    source="playback",
                )
            ]
        )
        if completed:
            await self.record_outcome(str(user_id), str(content_id), "finish", quiet=True)

    # -- experiments --------------------------------------------------------------------------
    async def create_experiment(
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
        self.invalidate()
        await self.model()
        return Experiment(experiment_id, name, tuple(variants))

    async def stop_experiment(self, experiment_id: str) -> bool:
        async with self.database.transaction() as session:
            record = await session.get(ExperimentRecord, experiment_id)
            if record is None:
                return False
            record.active = False
            session.add(record)
        self.invalidate()
        return True

    async def record_outcome(
        self, user_id: str, content_id: str, kind: str, *, quiet: bool = False
    ) -> int:
        """Log ``kind`` for every experiment that showed ``content_id`` to the member."""
        if kind not in OUTCOME_KINDS:
            raise ExperimentError(f"Unknown outcome {kind!r}.")
        await self.flush_exposures()
        async with self.database.transaction() as session:
            exposed = (
                await session.exec(
                    select(ExposureRecord.experiment_id, ExposureRecord.variant)
                    .where(
                        ExposureRecord.user_id == user_id,
                        ExposureRecord.content_id == content_id,
                    )
                    .distinct()
                )
            ).all()
            for experiment_id, variant in exposed:
                session.add(
                    OutcomeRecord(
                        experiment_id=experiment_id,
                        variant=variant,
                        user_id=user_id,
                        content_id=content_id,
                        kind=kind,
                    )
                )
        if not exposed and not quiet:
            log.debug("outcome without exposure", extra={"kind": kind})
        return len(exposed)

    async def experiment_results(
        self, experiment_id: str
    ) -> tuple[Experiment, list[VariantResult]] | None:
        await self.flush_exposures()
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

    # -- demo data ----------------------------------------------------------------------------
    async def seed_demo_interactions(self) -> int:
        """Demo co-watch data: the demo account's history plus synthetic demo viewers whose
        tastes follow genres of the demo catalog (so the demo has real signal to learn from)."""
        from media_gateway.platform.demo import DEMO_HISTORY, DEMO_USER_ID
        from media_gateway.subgraphs.catalog.demo import load_demo_catalog

        async with self.database.session() as session:
            seeded = (
                await session.exec(
                    select(InteractionRecord.id).where(InteractionRecord.source == "demo").limit(1)
                )
            ).first()
        if seeded is not None:
            return 0
        rng = random.Random(20240601)
        now = utcnow()
        titles = [t for t in load_demo_catalog().titles if t.kind in ("movie", "series")]
        genres = sorted({g for t in titles for g in t.genres})
        rows: list[InteractionRecord] = []
        for content_id, _minutes, _runtime, days_ago, finished in DEMO_HISTORY:
            rows.append(
                InteractionRecord(
                    user_id=DEMO_USER_ID,
                    content_id=content_id,
                    weight=1.0 if finished else 0.5,
                    occurred_at=now - timedelta(days=days_ago),
                    source="demo",
                )
            )
        for viewer in range(DEMO_VIEWERS):
            favourites = set(rng.sample(genres, k=rng.choice((1, 2))))
            pool = [t for t in titles if favourites & set(t.genres)] or titles
            weights = [1.0 + t.popularity for t in pool]
            picks = [t.id for t in rng.choices(pool, weights=weights, k=rng.randint(8, 20))]
            picks += [
                t.id for t in rng.choices(titles, weights=[1 + t.popularity for t in titles], k=2)
            ]
            start = now - timedelta(hours=rng.randint(24, 24 * 90))
            for step, content_id in enumerate(dict.fromkeys(picks)):
                rows.append(
                    InteractionRecord(
                        user_id=f"demo-viewer-{viewer:04d}",
                        content_id=content_id,
                        weight=1.0,
                        occurred_at=min(now, start + timedelta(hours=6 * step)),
                        source="demo",
                    )
                )
        await self.record(rows)
        log.info("seeded demo interactions", extra={"interactions": len(rows)})
        return len(rows)

    async def delete_source(self, source: str) -> None:
        async with self.database.transaction() as session:
            await session.exec(
                delete(InteractionRecord).where(col(InteractionRecord.source) == source)
            )
