"""Demo co-watch data: the demo account's history plus synthetic demo viewers whose tastes
follow genres of the demo catalog (so the demo has real signal to learn from).

The demo catalog's titles are handed in by whoever assembles the subgraph (the catalog owns
them); the seed runs once per database.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from sqlmodel import select

from media_gateway.platform.demo import DEMO_HISTORY, DEMO_USER_ID
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.recommendations.models import InteractionRecord

log = logging.getLogger(__name__)

DEMO_VIEWERS = 300


class DemoTitle(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def genres(self) -> Sequence[str]: ...
    @property
    def popularity(self) -> float: ...


async def seed_demo_interactions(database: Database, catalog: Sequence[DemoTitle]) -> int:
    """Interactions of the demo account and the demo viewers over the demo ``catalog``;
    returns how many were added (none when they are there already)."""
    async with database.session() as session:
        seeded = (
            await session.exec(
                select(InteractionRecord.id).where(InteractionRecord.source == "demo").limit(1)
            )
        ).first()
    if seeded is not None:
        return 0
    rng = random.Random(20240601)
    now = utcnow()
    titles = [t for t in catalog if t.kind in ("movie", "series")]
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
    async with database.transaction() as session:
        session.add_all(rows)
    log.info("seeded demo interactions", extra={"interactions": len(rows)})
    return len(rows)
