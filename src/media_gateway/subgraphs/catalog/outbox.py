"""Catalog events: written to ``catalog_outbox`` in the transaction of the change, then
published by the outbox relay (``storage.outbox``) to Kafka (``KAFKA_BOOTSTRAP_SERVERS``) or
the in-process bus.

A row is marked published only after the broker acknowledged it, so a broker outage delays
events and loses none; a failed batch is retried with a growing pause.
"""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.database import Database
from media_gateway.storage.outbox import OutboxRelay, Publish
from media_gateway.subgraphs.catalog.models import CatalogOutboxRecord

CONTENT_TOPIC = "catalog.content"
AVAILABILITY_TOPIC = "catalog.availability"


def record_event(session: AsyncSession, topic: str, key: str, payload: dict[str, Any]) -> None:
    """Add an event to the outbox of the caller's transaction."""
    session.add(CatalogOutboxRecord(topic=topic, key=key, payload=payload))


def catalog_relay(database: Database, publish: Publish) -> OutboxRelay:
    """The relay of ``catalog_outbox``."""
    return OutboxRelay(database, CatalogOutboxRecord, publish)
