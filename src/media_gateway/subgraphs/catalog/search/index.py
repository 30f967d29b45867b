"""The catalog's search index: built from storage at start, kept up to date from the catalog
outbox (changes written by any process), asked for searches and autocompletion."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlmodel import col, func, select

from media_gateway.platform.settings import Settings
from media_gateway.storage.database import Database
from media_gateway.subgraphs.catalog.models import (
    AvailabilityRecord,
    CatalogOutboxRecord,
    ContentGenreRecord,
    ContentRecord,
    CreditRecord,
    PersonRecord,
)
from media_gateway.subgraphs.catalog.outbox import CONTENT_TOPIC
from media_gateway.subgraphs.catalog.search.embeddings import make_embedder
from media_gateway.subgraphs.catalog.search.engine import (
    AutocompleteHit,
    IndexBuild,
    SearchEngine,
    SearchFilters,
    SearchOutcome,
    TitleDocument,
)
from media_gateway.subgraphs.catalog.search.personal import (
    RERANK_DEPTH,
    ViewerTastes,
    personalise,
)
from media_gateway.subgraphs.catalog.search.synonyms import QueryRules
from media_gateway.subgraphs.catalog.titles import LISTED, SEARCHABLE_KINDS

log = logging.getLogger(__name__)


class SearchIndex:
    def __init__(
        self,
        database: Database,
        settings: Settings | None = None,
        query_rules: QueryRules | None = None,
        *,
        tastes: ViewerTastes | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.query_rules = query_rules  # editors' synonyms and rewrites, applied to queries
        self.tastes = tastes  # a signed-in viewer's tastes, for personalised ordering
        self._engine: SearchEngine | None = None
        self._engine_lock = asyncio.Lock()
        self._index_cursor = 0  # the last outbox event the search index has applied

    def _new_engine(self) -> SearchEngine:
        if self.settings is None:
            return SearchEngine()
        return SearchEngine(
            make_embedder(self.settings),
            qdrant_url=self.settings.qdrant_url,
            qdrant_path=self.settings.qdrant_path,
        )

    async def engine(self) -> SearchEngine:
        """The search engine, built from storage on first use (or at start)."""
        if self._engine is not None and self._engine.ready:
            return self._engine
        async with self._engine_lock:
            if self._engine is None or not self._engine.ready:
                engine = self._engine or self._new_engine()
                self._index_cursor = await self._last_event_id()
                documents = await self.title_documents()
                await asyncio.to_thread(engine.build, documents)
                self._engine = engine
                build = engine.last_build
                log.info(
                    "search index built",
                    extra={
                        "titles": len(documents),
                        "embedded": build.embedded if build else None,
                        "reused": build.reused if build else None,
                    },
                )
            return self._engine

    @property
    def index_build(self) -> IndexBuild | None:
        """What building the search index did at start: vectors reused and vectors embedded."""
        return self._engine.last_build if self._engine is not None else None

    async def _last_event_id(self) -> int:
        async with self.database.session() as session:
            last = (await session.exec(select(func.max(CatalogOutboxRecord.id)))).one()
            return int(last or 0)

    async def sync_index(self, batch_size: int = 5000) -> int:
        """Apply the catalog events written since the index last looked (any process)."""
        if self._engine is None or not self._engine.ready:
            return 0
        applied = 0
        while True:
            async with self.database.session() as session:
                rows = list(
                    (
                        await session.exec(
                            select(CatalogOutboxRecord)
                            .where(col(CatalogOutboxRecord.id) > self._index_cursor)
                            .order_by(col(CatalogOutboxRecord.id))
                            .limit(batch_size)
                        )
                    ).all()
                )
            if not rows:
                return applied
            ids = list(
                dict.fromkeys(
                    str(row.payload.get("content_id") or row.key)
                    for row in rows
                    if row.payload.get("content_id") or row.topic == CONTENT_TOPIC
                )
            )
            await self.refresh_index(ids)
            self._index_cursor = int(rows[-1].id or self._index_cursor)
            applied += len(rows)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    async def refresh_index(self, ids: Sequence[str]) -> None:
        """Re-read changed titles into the search index (no-op before it is built)."""
        if self._engine is None or not self._engine.ready or not ids:
            return
        documents = await self.title_documents(ids)
        found = {d.id for d in documents}
        await asyncio.to_thread(self._engine.upsert, documents)
        missing = [i for i in ids if i not in found]
        if missing:
            await asyncio.to_thread(self._engine.remove, missing)

    async def title_documents(self, ids: Sequence[str] | None = None) -> list[TitleDocument]:
        """Movies and series with their genres, people and offers, as the index sees them."""
        async with self.database.session() as session:
            query = select(ContentRecord).where(
                col(ContentRecord.kind).in_(SEARCHABLE_KINDS), LISTED
            )
            if ids is not None:
                query = query.where(col(ContentRecord.id).in_(ids))
            records = list((await session.exec(query.order_by(col(ContentRecord.id)))).all())
            wanted = [r.id for r in records]
            genres: dict[str, list[str]] = {}
            offers: dict[str, list[tuple[str, str, str]]] = {}
            people: dict[str, list[tuple[str, str]]] = {}
            for start in range(0, max(len(wanted), 1), 5000):
                chunk = wanted[start : start + 5000]
                if not chunk:
                    break
                for genre in (
                    await session.exec(
                        select(ContentGenreRecord).where(
                            col(ContentGenreRecord.content_id).in_(chunk)
                        )
                    )
                ).all():
                    genres.setdefault(genre.content_id, []).append(genre.genre)
                for offer in (
                    await session.exec(
                        select(AvailabilityRecord).where(
                            col(AvailabilityRecord.content_id).in_(chunk)
                        )
                    )
                ).all():
                    offers.setdefault(offer.content_id, []).append(
                        (offer.platform, offer.region, offer.offer_type)
                    )
                for credit, person in (
                    await session.exec(
                        select(CreditRecord, PersonRecord)
                        .join(PersonRecord, col(PersonRecord.id) == col(CreditRecord.person_id))
                        .where(col(CreditRecord.content_id).in_(chunk))
                        # one order on every database, so a title's text (and vector) is stable
                        .order_by(
                            col(CreditRecord.position),
                            col(CreditRecord.role).desc(),
                            col(CreditRecord.person_id),
                        )
                    )
                ).all():
                    people.setdefault(credit.content_id, []).append((person.id, person.name))
        return [
            TitleDocument(
                id=r.id,
                kind=r.kind,
                title=r.title,
                original_title=r.original_title,
                year=r.year,
                runtime=r.runtime_minutes,
                content_rating=r.content_rating,
                popularity=r.popularity,
                quality_score=r.quality_score,
                genres=tuple(sorted(genres.get(r.id, ()))),
                people=tuple(people.get(r.id, ())),
                offers=tuple(offers.get(r.id, ())),
                synopsis=r.synopsis,
            )
            for r in records
        ]

    async def hybrid_search(
        self,
        query: str,
        filters: SearchFilters,
        *,
        first: int,
        offset: int,
        viewer: tuple[str, str] | None = None,
    ) -> SearchOutcome:
        """A page of results; ``viewer`` (account, profile) personalises their order."""
        engine = await self.engine()
        rewritten = await self.query_rules.expand(query) if self.query_rules else None
        text = rewritten or query
        if viewer is not None and self.tastes is not None and offset + first <= RERANK_DEPTH:
            outcome = await self._personal_search(engine, text, filters, first, offset, viewer)
        else:
            outcome = engine.search(text, filters, first=first, offset=offset)
        if rewritten and outcome.corrected_query is None:
            outcome.corrected_query = rewritten  # the client says "results for ..."
        return outcome

    async def _personal_search(
        self,
        engine: SearchEngine,
        query: str,
        filters: SearchFilters,
        first: int,
        offset: int,
        viewer: tuple[str, str],
    ) -> SearchOutcome:
        """The best ``RERANK_DEPTH`` results re-ordered by the viewer's tastes, then paged."""
        assert self.tastes is not None
        outcome = engine.search(query, filters, first=RERANK_DEPTH, offset=0)
        try:
            affinity = await self.tastes.affinity(viewer[0], viewer[1], outcome.ids)
        except Exception:  # tastes unavailable: the same order as for anyone
            log.warning("viewer tastes unavailable; search not personalised", exc_info=True)
            affinity = {}
        by_id = dict(zip(outcome.ids, outcome.scores, strict=True))
        ordered = personalise(outcome.ids, outcome.scores, affinity, outcome.exact_id)
        outcome.ids = ordered[offset : offset + first]
        outcome.scores = [by_id[i] for i in outcome.ids]
        return outcome

    async def autocomplete(
        self, prefix: str, limit: int, max_content_rating: str | None = None
    ) -> list[AutocompleteHit]:
        engine = await self.engine()
        return engine.autocomplete(prefix, limit, max_content_rating)
