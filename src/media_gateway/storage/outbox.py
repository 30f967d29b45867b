"""The transactional outbox: rows a subgraph writes with its changes, which a relay publishes.

Published rows are pruned after a while; ``outbox_backlog`` tells the metrics how many wait
and since when. ``OutboxRelay`` publishes the rows of any outbox table with ``id``, ``topic``,
``key``, ``payload`` and ``published_at`` columns, in order, through a ``Publish`` callable
(``KafkaPublisher`` for Kafka, beside the in-process bus).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import SQLModel, col, delete, select, update

from media_gateway.platform.events import PeriodicTask
from media_gateway.platform.metrics import Backlog
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow

log = logging.getLogger(__name__)

Publish = Callable[[str, str, dict[str, Any]], Awaitable[None]]

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


class KafkaPublisher:
    """Publishes JSON events with aiokafka (acks=all); reconnects after a failure. Delivery
    is at least once: consumers deduplicate by the event's key and payload."""

    def __init__(self, bootstrap_servers: str, *, request_timeout_ms: int = 5000) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.request_timeout_ms = request_timeout_ms
        self._producer: Any = None

    async def _connect(self) -> Any:
        if self._producer is None:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                acks="all",
                request_timeout_ms=self.request_timeout_ms,
                value_serializer=lambda v: json.dumps(v, sort_keys=True, default=str).encode(),
                key_serializer=lambda k: k.encode(),
            )
            try:
                await asyncio.wait_for(producer.start(), self.request_timeout_ms / 1000)
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def __call__(self, topic: str, key: str, payload: dict[str, Any]) -> None:
        producer = await self._connect()
        try:
            await asyncio.wait_for(
                producer.send_and_wait(topic, payload, key=key), self.request_timeout_ms / 1000
            )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception:  # already broken
                log.debug("kafka producer stop failed", exc_info=True)


class OutboxRelay:
    """Publishes the unpublished rows of ``outbox`` in order and marks them published once
    ``publish`` returned (so a broker outage delays events and loses none)."""

    def __init__(
        self, database: Database, outbox: type[SQLModel], publish: Publish, *, batch_size: int = 500
    ) -> None:
        self.database = database
        self.outbox = outbox
        self.publish = publish
        self.batch_size = batch_size

    async def relay_once(self) -> int:
        """Publish the oldest unpublished rows; stop at the first failure (raised as
        ``ConnectionError`` after the rows published before it are marked)."""
        table: Any = self.outbox
        async with self.database.session() as session:
            rows = list(
                (
                    await session.exec(
                        select(table)
                        .where(col(table.published_at).is_(None))
                        .order_by(col(table.id))
                        .limit(self.batch_size)
                    )
                ).all()
            )
        published: list[int] = []
        error: BaseException | None = None
        for row in rows:
            try:
                await self.publish(row.topic, row.key, dict(row.payload))
            except Exception as exc:  # broker unreachable: keep the rest for the next round
                error = exc
                break
            published.append(row.id)
        if published:
            async with self.database.transaction() as session:
                await session.exec(
                    update(table).where(col(table.id).in_(published)).values(published_at=utcnow())
                )
        if error is not None:
            log.warning(
                "outbox events not published yet; will retry",
                extra={"table": table.__tablename__, "error": type(error).__name__},
            )
            raise ConnectionError("the event broker is unreachable") from error
        return len(published)

    async def relay_step(self) -> int:
        """One round for a periodic task: an unreachable broker is logged, not raised."""
        try:
            return await self.relay_once()
        except ConnectionError:
            return 0

    async def drain(self, *, attempts: int = 60, pause: float = 0.5) -> int:
        """Relay until nothing is pending, retrying with a growing pause after failures."""
        total = 0
        for attempt in range(attempts):
            try:
                sent = await self.relay_once()
            except ConnectionError:
                await asyncio.sleep(min(pause * (attempt + 1), 5.0))
                continue
            total += sent
            if sent < self.batch_size:
                return total
        return total

    async def pending(self) -> int:
        """How many rows wait to be published."""
        table: Any = self.outbox
        async with self.database.session() as session:
            return int(
                (
                    await session.exec(
                        select(func.count())
                        .select_from(table)
                        .where(col(table.published_at).is_(None))
                    )
                ).one()
            )
