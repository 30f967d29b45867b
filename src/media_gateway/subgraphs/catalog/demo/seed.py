"""Seeding the demo catalog (titles, seasons, episodes, demo offers and credits) into an
empty catalog."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.catalog.demo import (
    demo_offers,
    demo_quality_score,
    load_demo_catalog,
    load_demo_credits,
    load_demo_details,
    load_demo_synopses,
)
from media_gateway.subgraphs.catalog.models import (
    AvailabilityRecord,
    ContentGenreRecord,
    ContentRecord,
    CreditRecord,
    PersonRecord,
)
from media_gateway.subgraphs.catalog.text import episode_id, fold, season_id, slug
from media_gateway.subgraphs.catalog.titles import TitleService

log = logging.getLogger(__name__)


async def seed_demo_catalog(database: Database) -> int:
    """Load the demo catalog into an empty catalog; returns the number of rows added."""
    async with database.session() as session:
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
    synopses = load_demo_synopses()
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
                synopsis=synopses.get(title.id),
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
    titles = TitleService(database)
    known = {r.id for r in await titles.contents_by_ids([r.id for r in contents])}
    contents = [r for r in contents if r.id not in known]
    genres = [g for g in genres if g.content_id not in known]
    async with database.transaction() as session:
        # parents before children: movies and series, then seasons, then episodes
        order = {"movie": 0, "series": 0, "season": 1, "episode": 2}
        for record in sorted(contents, key=lambda r: order[r.kind]):
            session.add(record)
        await session.flush()
        session.add_all(genres)
        session.add_all(offers)
        await _seed_demo_credits(titles, session, known)
    log.info(
        "seeded the demo catalog",
        extra={"titles": len(catalog.titles), "rows": len(contents), "offers": len(offers)},
    )
    return len(contents)


async def _seed_demo_credits(titles: TitleService, session: AsyncSession, known: set[str]) -> None:
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
    existing = {p.id for p in await titles.people_by_ids(list(people))}
    session.add_all([p for p in people.values() if p.id not in existing])
    await session.flush()
    session.add_all(credits)
