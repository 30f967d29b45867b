"""A title's or a person's editable state as one JSON document, read from storage and written
back. Versions keep these documents before and after each edit, so undoing an edit is writing
its "before" back.

A title's document: its fields, ``genres``, ``offers`` (availability), ``credits`` and whether
it is ``retired``. A person's: ``name``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.catalog.models import (
    AvailabilityRecord,
    ContentGenreRecord,
    ContentRecord,
    CreditRecord,
    PersonRecord,
)
from media_gateway.subgraphs.catalog.outbox import AVAILABILITY_TOPIC, CONTENT_TOPIC, record_event
from media_gateway.subgraphs.catalog.text import fold

Snapshot = dict[str, Any]

TITLE_FIELDS = (
    "kind",
    "title",
    "original_title",
    "year",
    "runtime_minutes",
    "synopsis",
    "content_rating",
    "imdb_id",
    "tmdb_id",
    "eidr_id",
    "parent_id",
    "season_number",
    "episode_number",
)
OFFER_FIELDS = (
    "platform",
    "region",
    "offer_type",
    "price",
    "currency",
    "quality",
    "deep_link",
    "leaves_at",
    "is_demo_data",
    "source",
)
PARTS = ("genres", "offers", "credits")


def _iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def offer_key(offer: dict[str, Any]) -> tuple[str, str, str]:
    return (offer["platform"], offer["region"], offer["offer_type"])


def _offer(record: AvailabilityRecord) -> dict[str, Any]:
    return {
        "platform": record.platform,
        "region": record.region,
        "offer_type": record.offer_type,
        "price": str(Decimal(record.price).quantize(Decimal("0.01")))
        if record.price is not None
        else None,
        "currency": record.currency,
        "quality": record.quality,
        "deep_link": record.deep_link,
        "leaves_at": _iso(record.leaves_at),
        "is_demo_data": record.is_demo_data,
        "source": record.source,
    }


async def read_title(session: AsyncSession, content_id: str) -> Snapshot | None:
    record = await session.get(ContentRecord, content_id)
    if record is None:
        return None
    genres = (
        await session.exec(
            select(ContentGenreRecord.genre).where(col(ContentGenreRecord.content_id) == content_id)
        )
    ).all()
    offers = (
        await session.exec(
            select(AvailabilityRecord).where(col(AvailabilityRecord.content_id) == content_id)
        )
    ).all()
    credits = (
        await session.exec(
            select(CreditRecord)
            .where(col(CreditRecord.content_id) == content_id)
            .order_by(
                col(CreditRecord.position), col(CreditRecord.role), col(CreditRecord.person_id)
            )
        )
    ).all()
    state: Snapshot = {name: getattr(record, name) for name in TITLE_FIELDS}
    state["genres"] = sorted(genres)
    state["offers"] = sorted((_offer(o) for o in offers), key=offer_key)
    state["credits"] = [
        {
            "person_id": c.person_id,
            "role": c.role,
            "job": c.job,
            "character": c.character,
            "position": c.position,
        }
        for c in credits
    ]
    state["retired"] = record.retired_at is not None
    return state


async def read_person(session: AsyncSession, person_id: str) -> Snapshot | None:
    record = await session.get(PersonRecord, person_id)
    return {"name": record.name} if record is not None else None


def changed_fields(before: Snapshot | None, after: Snapshot | None) -> list[str]:
    """The top-level names whose values differ (all of them for a creation)."""
    names = dict.fromkeys([*(before or {}), *(after or {})])
    return [n for n in names if (before or {}).get(n) != (after or {}).get(n)]


def _offer_event(content_id: str, offer: dict[str, Any], change: str) -> dict[str, Any]:
    """An availability event, as ingestion writes them."""
    return {
        "change": change,
        "content_id": content_id,
        "platform": offer["platform"],
        "region": offer["region"],
        "offer_type": offer["offer_type"],
        "price": offer["price"],
        "currency": offer["currency"],
        "quality": offer["quality"],
        "leaves_at": offer["leaves_at"],
    }


async def write_title(
    session: AsyncSession,
    content_id: str,
    before: Snapshot | None,
    after: Snapshot,
    *,
    version: int,
) -> None:
    """Make storage hold ``after`` (only the parts that differ from ``before``), with the
    catalog events ingestion would write for the same change."""
    now = utcnow()
    record = await session.get(ContentRecord, content_id)
    if record is None:
        record = ContentRecord(
            id=content_id, kind=after["kind"], title=after["title"], title_search=""
        )
    for name in TITLE_FIELDS:
        setattr(record, name, after.get(name))
    record.title_search = fold(after["title"])
    record.updated_at = now
    if after.get("retired"):
        record.retired_at = record.retired_at or now
    else:
        record.retired_at = None
    session.add(record)
    await session.flush()
    old = before or {}
    if old.get("genres") != after["genres"]:
        await session.exec(
            delete(ContentGenreRecord).where(col(ContentGenreRecord.content_id) == content_id)
        )
        session.add_all(ContentGenreRecord(content_id=content_id, genre=g) for g in after["genres"])
    if old.get("credits") != after["credits"]:
        await session.exec(delete(CreditRecord).where(col(CreditRecord.content_id) == content_id))
        session.add_all(CreditRecord(content_id=content_id, **c) for c in after["credits"])
    if old.get("offers") != after["offers"]:
        await _write_offers(session, content_id, old.get("offers") or [], after["offers"])
    if before is None:
        change = "new"
    elif after.get("retired") and not before.get("retired"):
        change = "retired"
    elif before.get("retired") and not after.get("retired"):
        change = "restored"
    else:
        change = "updated"
    record_event(
        session,
        CONTENT_TOPIC,
        content_id,
        {
            "change": change,
            "content_id": content_id,
            "source": "editor",
            "version": version,
            "fields": changed_fields(before, after),
        },
    )


async def _write_offers(
    session: AsyncSession, content_id: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    await session.exec(
        delete(AvailabilityRecord).where(col(AvailabilityRecord.content_id) == content_id)
    )
    for offer in new:
        leaves = offer["leaves_at"]
        session.add(
            AvailabilityRecord(
                content_id=content_id,
                platform=offer["platform"],
                region=offer["region"],
                offer_type=offer["offer_type"],
                price=Decimal(offer["price"]) if offer["price"] is not None else None,
                currency=offer["currency"],
                quality=offer["quality"],
                deep_link=offer["deep_link"],
                is_demo_data=bool(offer.get("is_demo_data")),
                leaves_at=datetime.fromisoformat(leaves) if leaves else None,
                source=offer.get("source"),
            )
        )
    before = {offer_key(o): o for o in old}
    after = {offer_key(o): o for o in new}
    for key, offer in after.items():
        if key not in before:
            record_event(
                session, AVAILABILITY_TOPIC, content_id, _offer_event(content_id, offer, "new")
            )
        elif before[key] != offer:
            record_event(
                session, AVAILABILITY_TOPIC, content_id, _offer_event(content_id, offer, "updated")
            )
    for key, offer in before.items():
        if key not in after:
            record_event(
                session, AVAILABILITY_TOPIC, content_id, _offer_event(content_id, offer, "removed")
            )


async def write_person(
    session: AsyncSession, person_id: str, after: Snapshot | None, *, version: int
) -> None:
    """Make storage hold ``after`` for a person (None: the person is removed); the titles that
    credit them are announced as changed (their people are part of what search finds)."""
    record = await session.get(PersonRecord, person_id)
    credited = (
        await session.exec(
            select(CreditRecord.content_id).where(col(CreditRecord.person_id) == person_id)
        )
    ).all()
    if after is None:
        if record is not None:
            await session.delete(record)
    else:
        if record is None:
            record = PersonRecord(id=person_id, name=after["name"], name_search="")
        record.name = after["name"]
        record.name_search = fold(after["name"])
        session.add(record)
    for content_id in dict.fromkeys(credited):
        record_event(
            session,
            CONTENT_TOPIC,
            content_id,
            {
                "change": "updated",
                "content_id": content_id,
                "source": "editor",
                "person_id": person_id,
                "version": version,
                "fields": ["credits"],
            },
        )
