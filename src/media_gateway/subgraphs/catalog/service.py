"""Catalog reads (titles, genres, availability, search) and the demo seed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import case, func, literal
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.platform.settings import Settings
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.catalog.models import (
    AvailabilityRecord,
    CatalogOutboxRecord,
    ContentGenreRecord,
    ContentRecord,
    CreditRecord,
    PersonRecord,
)
from media_gateway.subgraphs.catalog.outbox import CONTENT_TOPIC, record_event
from media_gateway.subgraphs.catalog.search import (
    AutocompleteHit,
    IndexBuild,
    SearchEngine,
    SearchFilters,
    SearchOutcome,
    TitleDocument,
)
from media_gateway.subgraphs.catalog.search.embeddings import make_embedder
from media_gateway.subgraphs.catalog.text import episode_id, fold, season_id, slug

log = logging.getLogger(__name__)

SEARCHABLE_KINDS = ("movie", "series")
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class SearchPage:
    items: list[ContentRecord]
    total_count: int
    offset: int


@dataclass(frozen=True)
class GenreCount:
    name: str
    title_count: int


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class CatalogService:
    def __init__(self, database: Database, settings: Settings | None = None) -> None:
        self.database = database
        self.settings = settings
        self._engine: SearchEngine | None = None
        self._engine_lock = asyncio.Lock()
        self._index_cursor = 0  # the last outbox event the search index has applied

    # -- the search engine ----------------------------------------------------------------

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
            query = select(ContentRecord).where(col(ContentRecord.kind).in_(SEARCHABLE_KINDS))
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
        self, query: str, filters: SearchFilters, *, first: int, offset: int
    ) -> SearchOutcome:
        engine = await self.engine()
        return engine.search(query, filters, first=first, offset=offset)

    async def autocomplete(
        self, prefix: str, limit: int, max_content_rating: str | None = None
    ) -> list[AutocompleteHit]:
        engine = await self.engine()
        return engine.autocomplete(prefix, limit, max_content_rating)

    # -- people, credits, offers ----------------------------------------------------------

    async def people_by_ids(self, ids: Sequence[str]) -> list[PersonRecord]:
        async with self.database.session() as session:
            result = await session.exec(select(PersonRecord).where(col(PersonRecord.id).in_(ids)))
            return list(result.all())

    async def credits_by_content_ids(self, ids: Sequence[str]) -> list[CreditRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(CreditRecord)
                .where(col(CreditRecord.content_id).in_(ids))
                .order_by(col(CreditRecord.role), col(CreditRecord.position))
            )
            return list(result.all())

    async def credits_by_person_ids(self, ids: Sequence[str]) -> list[CreditRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(CreditRecord)
                .where(col(CreditRecord.person_id).in_(ids))
                .order_by(col(CreditRecord.content_id))
            )
            return list(result.all())

    async def leaving_soon(
        self, region: str, days: int, *, limit: int
    ) -> list[tuple[ContentRecord, AvailabilityRecord]]:
        """Offers in ``region`` that end within ``days`` days, soonest first."""
        now = utcnow()
        async with self.database.session() as session:
            result = await session.exec(
                select(ContentRecord, AvailabilityRecord)
                .join(ContentRecord, col(ContentRecord.id) == col(AvailabilityRecord.content_id))
                .where(
                    col(AvailabilityRecord.region) == region.upper(),
                    col(AvailabilityRecord.leaves_at).is_not(None),
                    col(AvailabilityRecord.leaves_at) > now,
                    col(AvailabilityRecord.leaves_at) <= now + timedelta(days=days),
                )
                .order_by(col(AvailabilityRecord.leaves_at), col(ContentRecord.id))
                .limit(limit)
            )
            return [(content, offer) for content, offer in result.all()]

    async def contents_by_ids(self, ids: Sequence[str]) -> list[ContentRecord]:
        async with self.database.session() as session:
            result = await session.exec(select(ContentRecord).where(col(ContentRecord.id).in_(ids)))
            return list(result.all())

    async def genres_by_content_ids(self, ids: Sequence[str]) -> list[ContentGenreRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ContentGenreRecord)
                .where(col(ContentGenreRecord.content_id).in_(ids))
                .order_by(col(ContentGenreRecord.genre))
            )
            return list(result.all())

    async def availability_by_content_ids(self, ids: Sequence[str]) -> list[AvailabilityRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(AvailabilityRecord)
                .where(col(AvailabilityRecord.content_id).in_(ids))
                .order_by(col(AvailabilityRecord.platform), col(AvailabilityRecord.region))
            )
            return list(result.all())

    async def children_by_parent_ids(self, ids: Sequence[str]) -> list[ContentRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ContentRecord)
                .where(col(ContentRecord.parent_id).in_(ids))
                .order_by(col(ContentRecord.season_number), col(ContentRecord.episode_number))
            )
            return list(result.all())

    async def search(self, query: str, *, first: int, offset: int) -> SearchPage:
        """Titles whose folded title contains every word of the query, best matches first."""
        words = fold(query[:MAX_QUERY_LENGTH]).split()
        conditions = [col(ContentRecord.kind).in_(SEARCHABLE_KINDS)]
        for word in words:
            conditions.append(
                col(ContentRecord.title_search).like(f"%{_escape_like(word)}%", escape="\\")
            )
        folded = " ".join(words)
        exact = case((col(ContentRecord.title_search) == folded, literal(0)), else_=literal(1))
        prefix = case(
            (
                col(ContentRecord.title_search).like(f"{_escape_like(folded)}%", escape="\\"),
                literal(0),
            ),
            else_=literal(1),
        )
        async with self.database.session() as session:
            total = (
                await session.exec(
                    select(func.count()).select_from(ContentRecord).where(*conditions)
                )
            ).one()
            result = await session.exec(
                select(ContentRecord)
                .where(*conditions)
                .order_by(
                    exact, prefix, col(ContentRecord.popularity).desc(), col(ContentRecord.id)
                )
                .offset(offset)
                .limit(first)
            )
            return SearchPage(list(result.all()), int(total), offset)

    async def genres(self) -> list[GenreCount]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ContentGenreRecord.genre, func.count())
                .join(ContentRecord, col(ContentRecord.id) == col(ContentGenreRecord.content_id))
                .where(col(ContentRecord.kind).in_(SEARCHABLE_KINDS))
                .group_by(col(ContentGenreRecord.genre))
                .order_by(col(ContentGenreRecord.genre))
            )
            return [GenreCount(name, int(count)) for name, count in result.all()]

    async def is_empty(self) -> bool:
        async with self.database.session() as session:
            first = (await session.exec(select(ContentRecord.id).limit(1))).first()
            return first is None

    async def seed_demo_catalog(self) -> int:
        """Load the demo catalog into an empty catalog; returns the number of rows added."""
        from media_gateway.subgraphs.catalog.demo import (
            demo_offers,
            demo_quality_score,
            load_demo_catalog,
            load_demo_details,
        )

        async with self.database.session() as session:
            seeded = (
                await session.exec(
                    select(AvailabilityRecord.id)
                    .where(col(AvailabilityRecord.is_demo_data).is_(True))
                    .limit(1)
                )
            ).first()
        if seeded is not None:
            return 0
        catalog = load_demo_catalog()
        details = load_demo_details()
        now = utcnow()
        contents: list[ContentRecord] = []
        genres: list[ContentGenreRecord] = []
        offers: list[AvailabilityRecord] = []
        for position, title in enumerate(catalog.titles):
            detail = details.get(title.id)
            contents.append(
                ContentRecord(
                    id=title.id,
                    kind=title.kind,
                    title=title.title,
                    title_search=fold(title.title),
                    year=title.year,
                    runtime_minutes=title.runtime_minutes,
                    content_rating=title.content_rating,
                    popularity=title.popularity,
                    quality_score=demo_quality_score(title),
                    original_title=detail.original_title if detail else None,
                    imdb_id=detail.imdb_id if detail else None,
                    tmdb_id=detail.tmdb_id if detail else None,
                )
            )
            genres.extend(ContentGenreRecord(content_id=title.id, genre=g) for g in title.genres)
            offers.extend(
                AvailabilityRecord(
                    content_id=title.id,
                    platform=offer.platform,
                    region=offer.region,
                    offer_type=offer.offer_type,
                    price=Decimal(offer.price) if offer.price else None,
                    currency=offer.currency,
                    quality=offer.quality,
                    deep_link=offer.deep_link,
                    is_demo_data=True,
                    source="demo",
                    # every seventh demo title leaves its first platform within weeks
                    leaves_at=now + timedelta(days=3 + position % 25)
                    if position % 7 == 3 and index == 0
                    else None,
                )
                for index, offer in enumerate(demo_offers(title))
            )
            for number in range(1, title.seasons + 1):
                contents.append(
                    ContentRecord(
                        id=season_id(title.id, number),
                        kind="season",
                        title=f"{title.title}: Season {number}",
                        title_search=fold(f"{title.title} season {number}"),
                        year=title.year if number == 1 else None,
                        content_rating=title.content_rating,
                        popularity=title.popularity,
                        parent_id=title.id,
                        season_number=number,
                    )
                )
        by_id = {title.id: title for title in catalog.titles}
        for episode in catalog.episodes:
            series = by_id[episode.series_id]
            contents.append(
                ContentRecord(
                    id=episode_id(series.id, episode.season_number, episode.episode_number),
                    kind="episode",
                    title=episode.title,
                    title_search=fold(episode.title),
                    runtime_minutes=series.runtime_minutes,
                    content_rating=series.content_rating,
                    popularity=series.popularity,
                    parent_id=episode.season_id,
                    season_number=episode.season_number,
                    episode_number=episode.episode_number,
                )
            )
        known = {r.id for r in await self.contents_by_ids([r.id for r in contents])}
        contents = [r for r in contents if r.id not in known]
        genres = [g for g in genres if g.content_id not in known]
        async with self.database.transaction() as session:
            # parents before children: movies and series, then seasons, then episodes
            order = {"movie": 0, "series": 0, "season": 1, "episode": 2}
            for record in sorted(contents, key=lambda r: order[r.kind]):
                session.add(record)
            await session.flush()
            session.add_all(genres)
            session.add_all(offers)
            await self._seed_demo_credits(session, known)
        log.info(
            "seeded the demo catalog",
            extra={"titles": len(catalog.titles), "rows": len(contents), "offers": len(offers)},
        )
        return len(contents)

    async def _seed_demo_credits(self, session: AsyncSession, known: set[str]) -> None:
        from media_gateway.subgraphs.catalog.demo import load_demo_catalog, load_demo_credits

        popularity = {t.id: t.popularity for t in load_demo_catalog().titles}
        people: dict[str, PersonRecord] = {}
        credits: list[CreditRecord] = []
        for entry in load_demo_credits():
            director = "Creator" if entry.content_id.startswith("series:") else "Director"
            if entry.content_id in known or entry.content_id not in popularity:
                continue
            for role, names in (("crew", entry.directors), ("cast", entry.cast)):
                for position, name in enumerate(names):
                    person_id = f"person:{slug(name)}"
                    person = people.get(person_id)
                    if person is None:
                        person = people[person_id] = PersonRecord(
                            id=person_id, name=name, name_search=fold(name), popularity=0.0
                        )
                    person.popularity += popularity[entry.content_id]
                    credits.append(
                        CreditRecord(
                            content_id=entry.content_id,
                            person_id=person_id,
                            role=role,
                            job=director if role == "crew" else None,
                            position=position,
                        )
                    )
        if not people:
            return
        existing = {p.id for p in await self.people_by_ids(list(people))}
        session.add_all([p for p in people.values() if p.id not in existing])
        await session.flush()
        session.add_all(credits)

    async def upsert_titles(self, titles: Sequence[tuple[ContentRecord, Sequence[str]]]) -> int:
        """Insert titles that do not exist yet (by id) with their genres."""
        ids = [record.id for record, _ in titles]
        existing = {record.id for record in await self.contents_by_ids(ids)} if ids else set()
        added = 0
        async with self.database.transaction() as session:
            for record, genre_names in titles:
                if record.id in existing:
                    continue
                session.add(record)
                await session.flush()
                session.add_all(
                    ContentGenreRecord(content_id=record.id, genre=g)
                    for g in dict.fromkeys(genre_names)
                )
                record_event(
                    session,
                    CONTENT_TOPIC,
                    record.id,
                    {"change": "new", "content_id": record.id, "title": record.title},
                )
                added += 1
        await self.sync_index()
        return added
