"""Playback events for other services (recommendations, Kafka): written to an outbox in the
transaction of the change they describe, then relayed in order."""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.platform.events import Event, EventBus
from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.playback.models import OutboxEventRecord, PlaybackSessionRecord

PLAYBACK_TOPIC = "playback.events"

_OUTBOX: sa.Table = OutboxEventRecord.__table__  # type: ignore[attr-defined]


class EventSink(Protocol):
    async def publish(self, event: Event) -> None: ...


async def write_outbox(
    session: AsyncSession, kind: str, record: PlaybackSessionRecord, **extra: Any
) -> None:
    """The playback event for Kafka, in the change's transaction."""
    now = utcnow()
    payload: dict[str, Any] = {
        "type": kind,
        "sessionId": record.id,
        "userId": record.user_id,
        "profileId": record.profile_id,
        "contentId": record.content_id,
        "deviceId": record.device_id,
        "positionSeconds": record.position_seconds,
        "durationSeconds": record.duration_seconds,
        "state": record.state,
        "occurredAt": now.isoformat(),
        **extra,
    }
    connection = await session.connection()
    await connection.execute(
        _OUTBOX.insert(),
        {"topic": PLAYBACK_TOPIC, "key": record.user_id, "payload": payload, "created_at": now},
    )


class OutboxRelay:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def relay(self, bus: EventBus | EventSink, batch_size: int = 200) -> int:
        """Publish unpublished outbox events in order and mark them; returns how many."""
        published = 0
        while True:
            async with self.database.transaction() as session:
                result = await session.exec(
                    select(OutboxEventRecord)
                    .where(col(OutboxEventRecord.published_at).is_(None))
                    .order_by(col(OutboxEventRecord.id))
                    .limit(batch_size)
                    .with_for_update(skip_locked=True)
                )
                rows = list(result.all())
                if not rows:
                    return published
                now = utcnow()
                for row in rows:
                    await bus.publish(Event(row.topic, row.key, row.payload))
                    row.published_at = now
                    session.add(row)
                published += len(rows)
