"""The transactional outbox: rows a subgraph writes with its changes, which a relay publishes.

Published rows are pruned after a while; ``outbox_backlog`` tells the metrics how many wait
and since when.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import SQLModel, col, delete, select

from media_gateway.platform.events import PeriodicTask
from media_gateway.platform.metrics import Backlog
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow

# Outbox rows only wait for the relay: once published (to the bus and Kafka, where consumers
# read them), they are kept a day for inspection and then deleted, or the table would grow
# by every progress report of every device.
OUTBOX_RETENTION = timedelta(days=1)
OUTBOX_PRUNE_INTERVAL_SECONDS = 600.0


async def prune_published(
    database: Database, outbox: type[SQLModel], keep: timedelta = OUTBOX_RETENTION
) -> int:
    """Delete the rows of ``outbox`` published more than ``keep`` ago; rows not published yet
    stay, however old. Returns how many were deleted."""
    published_at = outbox.published_at  # type: ignore[attr-defined]
    async with database.transaction() as session:
        result = await session.exec(delete(outbox).where(col(published_at) < utcnow() - keep))
        return int(result.rowcount or 0)


def outbox_pruning(name: str, database: Database, outbox: type[SQLModel]) -> PeriodicTask:
    return PeriodicTask(
        name, lambda: prune_published(database, outbox), OUTBOX_PRUNE_INTERVAL_SECONDS
    )


def outbox_backlog(database: Database, outbox: type[SQLModel]) -> Backlog:
    """How many rows of ``outbox`` (with ``created_at`` and ``published_at`` columns) wait
    for the relay, and when the oldest was written."""

    async def read() -> tuple[int, datetime | None]:
        table: Any = outbox
        async with database.session() as session:
            row = (
                await session.exec(
                    select(func.count(), func.min(col(table.created_at))).where(
                        col(table.published_at).is_(None)
                    )
                )
            ).one()
        return int(row[0] or 0), row[1]

    return read
