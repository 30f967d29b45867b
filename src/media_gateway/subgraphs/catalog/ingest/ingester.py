"""Apply normalized titles to the catalog: entity resolution, title upsert, availability sync,
and one outbox event per change, all in the same transaction per batch."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from tqdm import tqdm

from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.catalog.ingest import quality
from media_gateway.subgraphs.catalog.ingest.canonical import CanonicalOffer, CanonicalTitle
from media_gateway.subgraphs.catalog.models import (
    AvailabilityRecord,
    ContentGenreRecord,
    ContentRecord,
    CreditRecord,
    PersonRecord,
)
from media_gateway.subgraphs.catalog.outbox import AVAILABILITY_TOPIC, CONTENT_TOPIC, record_event
from media_gateway.subgraphs.catalog.search.spelling import numeral_forms
from media_gateway.subgraphs.catalog.search.vocabulary import STOPWORDS
from media_gateway.subgraphs.catalog.text import (
    RUNTIME_TOLERANCE,
    content_id,
    fold,
    main_title_key,
    slug,
    title_key,
    title_keys,
)

EXPIRING_WITHIN = timedelta(days=30)
_LETTERS = re.compile(r"[a-z]+")


@dataclass
class IngestSummary:
    titles_new: int = 0
    titles_matched: int = 0
    offers_new: int = 0
    offers_changed: int = 0
    offers_expiring: int = 0
    offers_removed: int = 0
    events: int = 0
    content_ids: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.titles_new} new titles, {self.titles_matched} matched to the catalog; "
            f"offers: {self.offers_new} new, {self.offers_changed} changed, "
            f"{self.offers_expiring} expiring, {self.offers_removed} removed; "
            f"{self.events} events written to the outbox"
        )


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _offer_key(offer: AvailabilityRecord | CanonicalOffer) -> tuple[str, str, str]:
    return (offer.platform, offer.region, offer.offer_type)


def _offer_payload(content: str, offer: CanonicalOffer | AvailabilityRecord, change: str) -> Any:
    leaves = _utc(offer.leaves_at)
    return {
        "change": change,
        "content_id": content,
        "platform": offer.platform,
        "region": offer.region,
        "offer_type": offer.offer_type,
        "price": str(offer.price) if offer.price is not None else None,
        "currency": offer.currency,
        "quality": offer.quality,
        "leaves_at": leaves.isoformat() if leaves else None,
    }


def anchor_word(title: str) -> str | None:
    """The longest plain word of a title (not an article or a numeral), which every writing
    of it contains as typed: what candidate titles are looked up by."""
    words = [
        w
        for w in _LETTERS.findall(fold(title))
        if len(w) >= 3 and w not in STOPWORDS and not numeral_forms(w)
    ]
    return max(words, key=len) if words else None


def _keys(record: ContentRecord | CanonicalTitle) -> frozenset[str]:
    keys = title_keys(record.title)
    if record.original_title:
        keys |= title_keys(record.original_title)
    return keys


def pick_match(title: CanonicalTitle, candidates: Sequence[ContentRecord]) -> ContentRecord | None:
    """The catalog title a feed's title is, among candidates, or None.

    Titles match when their keys do (``title_keys``: leading articles, punctuation, "&",
    numerals, an alternate title in parentheses), or when one is the other without its
    subtitle and both give the same year. Year and runtime decide between matches: a year
    apart is accepted for a full match only, and runtimes (when both are known) differ by at
    most ``RUNTIME_TOLERANCE``. Different external ids of the same kind never match.
    """
    keys = _keys(title)
    main = main_title_key(title.title)
    full = title_key(title.title)
    best: tuple[tuple[int, int, int, str], ContentRecord] | None = None
    for candidate in candidates:
        if any(
            getattr(title, name)
            and getattr(candidate, name)
            and getattr(title, name) != getattr(candidate, name)
            for name in ("imdb_id", "tmdb_id", "eidr_id")
        ):
            continue
        candidate_keys = _keys(candidate)
        same = bool(keys & candidate_keys)
        partial = main in candidate_keys or main_title_key(candidate.title) == full
        if not (same or partial):
            continue
        if not same and (title.year is None or title.year != candidate.year):
            continue  # a title without its subtitle: only with the same year on both
        year_gap = 0
        if title.year is not None and candidate.year is not None:
            year_gap = abs(candidate.year - title.year)
            if year_gap > 1:
                continue
        runtime_gap = 0
        if title.runtime_minutes and candidate.runtime_minutes:
            runtime_gap = abs(candidate.runtime_minutes - title.runtime_minutes)
            if runtime_gap > RUNTIME_TOLERANCE:
                continue
        elif year_gap:
            continue  # a year apart only when the runtimes agree
        rank = (year_gap, 0 if same else 1, runtime_gap, candidate.id)
        if best is None or rank < best[0]:
            best = (rank, candidate)
    return best[1] if best is not None else None


class Ingester:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def _resolve(self, session: AsyncSession, title: CanonicalTitle) -> ContentRecord | None:
        """External ids first, then normalized title + year (+ runtime when both know it)."""
        for column, value in (
            (ContentRecord.imdb_id, title.imdb_id),
            (ContentRecord.tmdb_id, title.tmdb_id),
            (ContentRecord.eidr_id, title.eidr_id),
        ):
            if value:
                found = (
                    await session.exec(select(ContentRecord).where(col(column) == value))
                ).first()
                if found is not None:
                    return found
        return pick_match(title, await self._candidates(session, title))

    async def _candidates(
        self, session: AsyncSession, title: CanonicalTitle
    ) -> Sequence[ContentRecord]:
        """Titles of the same kind that may be this one written differently: those sharing its
        most distinctive word, within a year of it when the feed gives a year."""
        query = select(ContentRecord).where(col(ContentRecord.kind) == title.kind)
        if title.year is not None:
            query = query.where(
                col(ContentRecord.year).is_(None)
                | col(ContentRecord.year).between(title.year - 1, title.year + 1)
            )
        anchor = anchor_word(title.title)
        if anchor is not None:
            query = query.where(col(ContentRecord.title_search).contains(anchor))
        elif title.year is None:
            query = query.where(col(ContentRecord.title_search) == fold(title.title))
        return (await session.exec(query.limit(500))).all()

    async def _apply_title(
        self, session: AsyncSession, title: CanonicalTitle, summary: IngestSummary
    ) -> str:
        record = await self._resolve(session, title)
        now = utcnow()
        if record is None:
            identifier = content_id(title.kind, title.title, title.year)
            if await session.get(ContentRecord, identifier) is not None:
                identifier = f"{identifier}-{slug(title.platform)}-{slug(title.source_id)}"[:160]
            record = ContentRecord(
                id=identifier,
                kind=title.kind,
                title=title.title,
                title_search=fold(title.title),
                year=title.year,
                runtime_minutes=title.runtime_minutes,
                synopsis=title.synopsis,
                content_rating=title.content_rating,
                original_title=title.original_title,
                imdb_id=title.imdb_id,
                tmdb_id=title.tmdb_id,
                eidr_id=title.eidr_id,
                quality_score=title.quality_score,
                updated_at=now,
            )
            session.add(record)
            await session.flush()
            summary.titles_new += 1
            change = "new"
        else:
            summary.titles_matched += 1
            change = "updated"
            # fill what the catalog does not know yet; never overwrite known facts
            for name in (
                "year",
                "runtime_minutes",
                "synopsis",
                "content_rating",
                "original_title",
                "imdb_id",
                "tmdb_id",
                "eidr_id",
                "quality_score",
            ):
                value = getattr(title, name)
                if getattr(record, name) is None and value is not None:
                    setattr(record, name, value)
            record.updated_at = now
            session.add(record)
        known_genres = {
            g.genre
            for g in (
                await session.exec(
                    select(ContentGenreRecord).where(
                        col(ContentGenreRecord.content_id) == record.id
                    )
                )
            ).all()
        }
        session.add_all(
            ContentGenreRecord(content_id=record.id, genre=g)
            for g in title.genres
            if g not in known_genres
        )
        await self._apply_people(session, record.id, title)
        record_event(
            session,
            CONTENT_TOPIC,
            record.id,
            {"change": change, "content_id": record.id, "platform": title.platform},
        )
        summary.events += 1
        return record.id

    async def _score(self, session: AsyncSession, content: str, title: CanonicalTitle) -> None:
        """Quality score and popularity (quality x freshness) from the feed's reception data
        and the number of platforms now carrying the title; feeds without any leave both."""
        record = await session.get(ContentRecord, content)
        if record is None:
            return
        platforms = (
            await session.exec(
                select(AvailabilityRecord.platform)
                .where(col(AvailabilityRecord.content_id) == content)
                .distinct()
            )
        ).all()
        score = quality.quality_score(
            audience=title.audience_score,
            votes=title.vote_count,
            critic=title.critic_score,
            platforms=max(len(platforms), 1),
        )
        if score is None:
            score = title.quality_score
        if score is None:
            return
        released = quality.release_moment(title.released_at, record.year or title.year)
        first_seen = _utc(record.created_at)
        fresh = quality.freshness(released, [first_seen] if first_seen else [])
        record.quality_score = score
        record.popularity = quality.popularity(score, fresh)
        session.add(record)

    async def _apply_people(
        self, session: AsyncSession, content: str, title: CanonicalTitle
    ) -> None:
        existing = {
            (c.person_id, c.role)
            for c in (
                await session.exec(
                    select(CreditRecord).where(col(CreditRecord.content_id) == content)
                )
            ).all()
        }
        for role, names in (("crew", title.directors), ("cast", title.cast)):
            for position, name in enumerate(names[:20]):
                person_id = f"person:{slug(name)}"[:160]
                if (person_id, role) in existing:
                    continue
                if await session.get(PersonRecord, person_id) is None:
                    session.add(PersonRecord(id=person_id, name=name, name_search=fold(name)))
                    await session.flush()
                session.add(
                    CreditRecord(
                        content_id=content,
                        person_id=person_id,
                        role=role,
                        job="Director" if role == "crew" else None,
                        position=position,
                    )
                )
                existing.add((person_id, role))

    async def _sync_offers(
        self,
        session: AsyncSession,
        content: str,
        platform: str,
        offers: Sequence[CanonicalOffer],
        summary: IngestSummary,
        *,
        full: bool,
    ) -> None:
        current = {
            _offer_key(o): o
            for o in (
                await session.exec(
                    select(AvailabilityRecord).where(
                        col(AvailabilityRecord.content_id) == content,
                        col(AvailabilityRecord.platform) == platform,
                    )
                )
            ).all()
        }
        now = utcnow()
        seen = set()
        for offer in offers:
            key = _offer_key(offer)
            seen.add(key)
            leaves = _utc(offer.leaves_at)
            expiring = leaves is not None and leaves <= now + EXPIRING_WITHIN
            row = current.get(key)
            if row is None:
                session.add(
                    AvailabilityRecord(
                        content_id=content,
                        platform=offer.platform,
                        region=offer.region,
                        offer_type=offer.offer_type,
                        price=offer.price,
                        currency=offer.currency,
                        quality=offer.quality,
                        deep_link=offer.deep_link,
                        leaves_at=leaves,
                        source=platform,
                    )
                )
                change = "new"
                summary.offers_new += 1
            else:
                before = (row.price, row.currency, row.quality, row.deep_link, _utc(row.leaves_at))
                after = (offer.price, offer.currency, offer.quality, offer.deep_link, leaves)
                if before == after:
                    continue
                was_expiring = row.leaves_at is not None
                row.price, row.currency, row.quality = offer.price, offer.currency, offer.quality
                row.deep_link, row.leaves_at, row.source = offer.deep_link, leaves, platform
                row.is_demo_data = False
                session.add(row)
                change = "expiring" if expiring and not was_expiring else "changed"
                if change == "expiring":
                    summary.offers_expiring += 1
                else:
                    summary.offers_changed += 1
            record_event(
                session, AVAILABILITY_TOPIC, content, _offer_payload(content, offer, change)
            )
            summary.events += 1
        if full:
            for key, row in current.items():
                if key in seen:
                    continue
                await session.delete(row)
                record_event(
                    session, AVAILABILITY_TOPIC, content, _offer_payload(content, row, "removed")
                )
                summary.offers_removed += 1
                summary.events += 1

    async def ingest(
        self,
        titles: Sequence[CanonicalTitle],
        *,
        full_snapshot: bool = False,
        batch_size: int = 100,
        progress: bool = False,
        after_batch: Callable[[], Any] | None = None,
    ) -> IngestSummary:
        """Apply titles in batches; each batch (titles, offers, events) commits or not at all.

        ``full_snapshot``: the feed lists every offer of its platform, so offers of that
        platform it no longer lists are removed.
        """
        summary = IngestSummary()
        platforms = {t.platform for t in titles}
        bar = tqdm(total=len(titles), desc="ingest", unit="title", disable=not progress)
        for start in range(0, len(titles), batch_size):
            batch = titles[start : start + batch_size]
            async with self.database.transaction() as session:
                for title in batch:
                    identifier = await self._apply_title(session, title, summary)
                    summary.content_ids.append(identifier)
                    await self._sync_offers(
                        session, identifier, title.platform, title.offers, summary, full=True
                    )
                    await self._score(session, identifier, title)
            bar.update(len(batch))
            if after_batch is not None:
                result = after_batch()
                if hasattr(result, "__await__"):
                    await result
        bar.close()
        if full_snapshot:
            await self._remove_unlisted(platforms, set(summary.content_ids), summary)
        return summary

    async def _remove_unlisted(
        self, platforms: set[str], listed: set[str], summary: IngestSummary
    ) -> None:
        async with self.database.transaction() as session:
            rows = (
                await session.exec(
                    select(AvailabilityRecord).where(
                        col(AvailabilityRecord.source).in_(list(platforms)),
                        col(AvailabilityRecord.content_id).not_in(list(listed) or [""]),
                    )
                )
            ).all()
            for row in rows:
                await session.delete(row)
                record_event(
                    session,
                    AVAILABILITY_TOPIC,
                    row.content_id,
                    _offer_payload(row.content_id, row, "removed"),
                )
                summary.offers_removed += 1
                summary.events += 1
