"""Model lifecycle: train a ranker on every interaction, store it as a version, serve the newest.

Full retraining (``train``) writes a new model version to storage; every replica checks for a
newer version every few seconds and loads it, together with the item features serving filters
by (and whatever else registered to be reloaded with them: the active experiments).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import Any

import numpy as np
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.platform.embeddings import Embedder, HashingEmbedder
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.recommendations.features import (
    CatalogSource,
    copy_item_features,
    item_texts,
    serving_features,
    training_features,
)
from media_gateway.subgraphs.recommendations.models import (
    InteractionRecord,
    ItemFeaturesRecord,
    ModelArtifactRecord,
)
from media_gateway.subgraphs.recommendations.ranker import (
    BlendWeights,
    Interaction,
    Ranker,
    RankerConfig,
)
from media_gateway.subgraphs.recommendations.selection import Features

log = logging.getLogger(__name__)

FRESHNESS_CHECK_SECONDS = 2.0
RETRAIN_INTERVAL_SECONDS = 3600.0

# reads more of storage each time the model is checked (given the check's session)
Reload = Callable[[AsyncSession], Awaitable[None]]


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


class TrainingService:
    def __init__(
        self,
        database: Database,
        config: RankerConfig | None = None,
        embedder: Embedder | None = None,
        catalog: CatalogSource | None = None,
    ) -> None:
        self.database = database
        self.config = config or RankerConfig()
        self.embedder: Embedder = embedder or HashingEmbedder()
        self.catalog = catalog
        self._ranker = Ranker.empty(self.config)
        self._version: int | None = None
        self._features: dict[str, Features] = {}
        self._features_marker: tuple[Any, ...] | None = None
        self._reloads: list[Reload] = []
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None
        self.trainings = 0  # models this service has trained (a start that reloads trains none)

    # -- the served model ---------------------------------------------------------------------
    @property
    def version(self) -> int | None:
        return self._version

    @property
    def ranker(self) -> Ranker:
        """The model in use (``model`` checks for a newer one first)."""
        return self._ranker

    @property
    def features(self) -> dict[str, Features]:
        """The item features in use (replaced, never changed in place, when they change)."""
        return self._features

    def reload_with_model(self, reload: Reload) -> None:
        """Have ``reload`` read storage each time the model is checked (same session)."""
        self._reloads.append(reload)

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
            for reload in self._reloads:
                await reload(session)
        if features is not None:
            self._features = serving_features(features)
            self._features_marker = marker

    def invalidate(self) -> None:
        self._checked_at = 0.0

    async def close(self) -> None:
        """Stop a background check still running."""
        task = self._refreshing
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- training -----------------------------------------------------------------------------
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
            features = training_features((await session.exec(select(ItemFeaturesRecord))).all())
        texts = await item_texts(self.catalog)
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
        self._ranker, self._version = ranker, version
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

    async def sync_item_features(self) -> int:
        """Copy genres, year, runtime, rating and offer regions from the catalog."""
        copied = await copy_item_features(self.database, self.catalog)
        if copied:
            self.invalidate()
        return copied

    async def _interaction_count(self) -> int:
        async with self.database.session() as session:
            count = (await session.exec(select(func.count()).select_from(InteractionRecord))).one()
        return int(count or 0)

    async def is_empty(self) -> bool:
        return await self._interaction_count() == 0
