"""Catalog reads and writes: titles, their genres, availability and credits, and people."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import col, func, select

from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.catalog.models import (
    AvailabilityRecord,
    ContentGenreRecord,
    ContentRecord,
    CreditRecord,
    PersonRecord,
)
from media_gateway.subgraphs.catalog.outbox import CONTENT_TOPIC, record_event
from media_gateway.subgraphs.catalog.values import (
    Credit,
    Offer,
    Person,
    Title,
    TitleGenre,
    columns,
)

SEARCHABLE_KINDS = ("movie", "series")
# browsing lists titles that are not retired (a retired title is still resolvable by id)
LISTED = col(ContentRecord.retired_at).is_(None)
TITLE = columns(Title, ContentRecord)
GENRE = columns(TitleGenre, ContentGenreRecord)
OFFER = columns(Offer, AvailabilityRecord)
PERSON = columns(Person, PersonRecord)
CREDIT = columns(Credit, CreditRecord)


@dataclass(frozen=True)
class GenreCount:
    name: str
    title_count: int


@dataclass(frozen=True)
class TitleFacts:
    """A movie or series: what other features copy of it (a recommender ranks by these)."""

    id: str
    year: int | None
    runtime_minutes: int | None
    content_rating: str | None
    genres: tuple[str, ...]
    regions: frozenset[str]  # where a platform offers it


@dataclass(frozen=True)
class TitleText:
    """A movie or series as text: its title, genres and synopsis."""

    id: str
    title: str
    genres: tuple[str, ...]
    synopsis: str | None


class TitleService:
    def __init__(
        self, database: Database, on_change: Callable[[], Awaitable[Any]] | None = None
    ) -> None:
        self.database = database
        self.on_change = on_change  # called after titles were added (the search index)

    async def contents_by_ids(self, ids: Sequence[str]) -> list[Title]:
        async with self.database.session() as session:
            result = await session.exec(select(*TITLE).where(col(ContentRecord.id).in_(ids)))
            return [Title(*row) for row in result.all()]

    async def genres_by_content_ids(self, ids: Sequence[str]) -> list[TitleGenre]:
        async with self.database.session() as session:
            result = await session.exec(
                select(*GENRE)
                .where(col(ContentGenreRecord.content_id).in_(ids))
                .order_by(col(ContentGenreRecord.genre))
            )
            return [TitleGenre(*row) for row in result.all()]

    async def availability_by_content_ids(self, ids: Sequence[str]) -> list[Offer]:
        async with self.database.session() as session:
            result = await session.exec(
                select(*OFFER)
                .where(col(AvailabilityRecord.content_id).in_(ids))
                .order_by(col(AvailabilityRecord.platform), col(AvailabilityRecord.region))
            )
            return [Offer(*row) for row in result.all()]

    async def children_by_parent_ids(self, ids: Sequence[str]) -> list[Title]:
        async with self.database.session() as session:
            result = await session.exec(
                select(*TITLE)
                .where(col(ContentRecord.parent_id).in_(ids), LISTED)
                .order_by(col(ContentRecord.season_number), col(ContentRecord.episode_number))
            )
            return [Title(*row) for row in result.all()]

    async def people_by_ids(self, ids: Sequence[str]) -> list[Person]:
        async with self.database.session() as session:
            result = await session.exec(select(*PERSON).where(col(PersonRecord.id).in_(ids)))
            return [Person(*row) for row in result.all()]

    async def credits_by_content_ids(self, ids: Sequence[str]) -> list[Credit]:
        async with self.database.session() as session:
            result = await session.exec(
                select(*CREDIT)
                .where(col(CreditRecord.content_id).in_(ids))
                .order_by(col(CreditRecord.role), col(CreditRecord.position))
            )
            return [Credit(*row) for row in result.all()]

    async def credits_by_person_ids(self, ids: Sequence[str]) -> list[Credit]:
        async with self.database.session() as session:
            result = await session.exec(
                select(*CREDIT)
                .where(col(CreditRecord.person_id).in_(ids))
                .order_by(col(CreditRecord.content_id))
            )
            return [Credit(*row) for row in result.all()]

    async def leaving_soon(
        self, region: str, days: int, *, limit: int
    ) -> list[tuple[Title, Offer]]:
        """Offers in ``region`` that end within ``days`` days, soonest first."""
        now = utcnow()
        async with self.database.session() as session:
            result = await session.exec(
                select(*TITLE, *OFFER)
                .select_from(AvailabilityRecord)
                .join(ContentRecord, col(ContentRecord.id) == col(AvailabilityRecord.content_id))
                .where(
                    col(AvailabilityRecord.region) == region.upper(),
                    col(AvailabilityRecord.leaves_at).is_not(None),
                    col(AvailabilityRecord.leaves_at) > now,
                    col(AvailabilityRecord.leaves_at) <= now + timedelta(days=days),
                    LISTED,
                )
                .order_by(col(AvailabilityRecord.leaves_at), col(ContentRecord.id))
                .limit(limit)
            )
            split = len(TITLE)
            return [(Title(*row[:split]), Offer(*row[split:])) for row in result.all()]

    async def genres(self) -> list[GenreCount]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ContentGenreRecord.genre, func.count())
                .join(ContentRecord, col(ContentRecord.id) == col(ContentGenreRecord.content_id))
                .where(col(ContentRecord.kind).in_(SEARCHABLE_KINDS), LISTED)
                .group_by(col(ContentGenreRecord.genre))
                .order_by(col(ContentGenreRecord.genre))
            )
            return [GenreCount(name, int(count)) for name, count in result.all()]

    async def title_facts(self) -> list[TitleFacts]:
        """Every movie and series with its genres, year, runtime, rating and offer regions."""
        async with self.database.session() as session:
            contents = (
                await session.exec(
                    select(
                        ContentRecord.id,
                        ContentRecord.year,
                        ContentRecord.runtime_minutes,
                        ContentRecord.content_rating,
                    ).where(col(ContentRecord.kind).in_(SEARCHABLE_KINDS), LISTED)
                )
            ).all()
            genres = (await session.exec(select(ContentGenreRecord))).all()
            offers = (
                await session.exec(select(AvailabilityRecord.content_id, AvailabilityRecord.region))
            ).all()
        by_genre: dict[str, list[str]] = {}
        for g in genres:
            by_genre.setdefault(g.content_id, []).append(g.genre)
        by_region: dict[str, set[str]] = {}
        for content_id, region in offers:
            by_region.setdefault(content_id, set()).add(region)
        return [
            TitleFacts(
                id=cid,
                year=year,
                runtime_minutes=runtime,
                content_rating=rating,
                genres=tuple(by_genre.get(cid, ())),
                regions=frozenset(by_region.get(cid, ())),
            )
            for cid, year, runtime, rating in contents
        ]

    async def title_texts(self) -> list[TitleText]:
        """Every movie and series with its title, genres and synopsis."""
        async with self.database.session() as session:
            contents = (
                await session.exec(
                    select(ContentRecord.id, ContentRecord.title, ContentRecord.synopsis).where(
                        col(ContentRecord.kind).in_(SEARCHABLE_KINDS), LISTED
                    )
                )
            ).all()
            genres = (await session.exec(select(ContentGenreRecord))).all()
        by_genre: dict[str, list[str]] = {}
        for g in genres:
            by_genre.setdefault(g.content_id, []).append(g.genre)
        return [
            TitleText(id=cid, title=title, genres=tuple(by_genre.get(cid, ())), synopsis=synopsis)
            for cid, title, synopsis in contents
        ]

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
        if self.on_change is not None:
            await self.on_change()
        return added
