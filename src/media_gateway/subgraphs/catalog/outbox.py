"""Catalog events: written to ``catalog_outbox`` in the transaction of the change, then
published by ``OutboxRelay`` to Kafka (``KAFKA_BOOTSTRAP_SERVERS``) or the in-process bus.

A row is marked published only after the broker acknowledged it, so a broker outage delays
events and loses none; a failed batch is retried with a growing pause.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.catalog.models import CatalogOutboxRecord

log = logging.getLogger(__name__)

CONTENT_TOPIC = "catalog.content"
AVAILABILITY_TOPIC = "catalog.availability"

Publish = Callable[[str, str, dict[str, Any]], Awaitable[None]]


def record_event(session: AsyncSession, topic: str, key: str, payload: dict[str, Any]) -> None:
    """Add an event to the outbox of the caller's transaction."""
    session.add(CatalogOutboxRecord(topic=topic, key=key, payload=payload))


class KafkaPublisher:
    """Publishes with aiokafka (acks=all); reconnects after a failure. Delivery is at least
    once: consumers deduplicate by the event's key and payload."""

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
                value_serializer=lambda v: json.dumps(v, sort_keys=True).encode(),
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
    def __init__(self, database: Database, publish: Publish, *, batch_size: int = 500) -> None:
        self.database = database
        self.publish = publish
        self.batch_size = batch_size
        self.failures = 0

    async def relay_once(self) -> int:
        """Publish the oldest unpublished events in order; stop at the first failure."""
        async with self.database.session() as session:
            rows = list(
                (
                    await session.exec(
                        select(CatalogOutboxRecord)
                        .where(col(CatalogOutboxRecord.published_at).is_(None))
                        .order_by(col(CatalogOutboxRecord.id))
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
            assert row.id is not None
            published.append(row.id)
        if published:
            async with self.database.transaction() as session:
                await session.exec(
                    update(CatalogOutboxRecord)
                    .where(col(CatalogOutboxRecord.id).in_(published))
                    .values(published_at=utcnow())
                )
        if error is not None:
            self.failures += 1
            log.warning(
                "catalog events not published yet; will retry",
                extra={"error": type(error).__name__, "pending": len(rows) - len(published)},
            )
            raise ConnectionError("the event broker is unreachable") from error
        self.failures = 0
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
        from sqlalchemy import func

        async with self.database.session() as session:
            return int(
                (
                    await session.exec(
                        select(func.count())
                        .select_from(CatalogOutboxRecord)
                        .where(col(CatalogOutboxRecord.published_at).is_(None))
                    )
                ).one()
            )
