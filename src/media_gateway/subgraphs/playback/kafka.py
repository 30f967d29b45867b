"""Playback events to Kafka (distributed mode): the outbox relay's second destination.

The relay publishes each outbox row to the in-process bus and, when
``KAFKA_BOOTSTRAP_SERVERS`` is set, to the row's topic (``playback.events``) keyed by user
id, as JSON. A row is marked published only once Kafka acknowledged it, so delivery is at
least once; consumers deduplicate by ``sessionId`` + ``type`` + ``occurredAt`` if they care.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from media_gateway.platform.events import Event, EventBus

log = logging.getLogger(__name__)


class KafkaEventSink:
    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers, acks="all", linger_ms=5
        )
        await producer.start()
        self._producer = producer

    async def publish(self, event: Event) -> None:
        if self._producer is None:
            await self.start()
        await self._producer.send_and_wait(
            event.topic,
            json.dumps(dict(event.payload), default=str).encode(),
            key=event.key.encode(),
        )

    async def stop(self) -> None:
        if self._producer is not None:
            try:
                await self._producer.stop()
            finally:
                self._producer = None


class RelayTargets:
    """What the outbox relay publishes to: the in-process bus, then Kafka when configured."""

    def __init__(self, bus: EventBus, kafka: KafkaEventSink | None) -> None:
        self.bus = bus
        self.kafka = kafka

    async def publish(self, event: Event) -> None:
        if self.kafka is not None:
            await self.kafka.publish(event)
        await self.bus.publish(event)
