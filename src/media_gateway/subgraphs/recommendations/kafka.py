"""Playback events from Kafka (distributed mode): an aiokafka consumer group feeding the
same handler the in-process event bus calls in the embedded mode. Its lag per partition is
kept on the service's metrics while it consumes (``kafka_consumer_lag``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from media_gateway.platform.events import Event, Handler
from media_gateway.platform.metrics import ConsumerLag

log = logging.getLogger(__name__)

GROUP_ID = "media-gateway-recommendations"
POLL_TIMEOUT_MS = 1000  # how often the lag is updated while no message arrives
# one message handed over at a time: the position, which auto-commit stores, passes a
# message only when it is about to be handled
MAX_RECORDS = 1


class PlaybackEventConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        handler: Handler,
        *,
        group_id: str = GROUP_ID,
        offset_reset: str = "latest",
        lag: ConsumerLag | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.handler = handler
        self.group_id = group_id
        self.offset_reset = offset_reset
        self.lag = lag
        self._task: asyncio.Task[None] | None = None
        self._consumer: object | None = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            auto_offset_reset=self.offset_reset,
            enable_auto_commit=True,
        )
        await consumer.start()
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="recommendations-kafka")

    async def _run(self, consumer: object) -> None:
        from aiokafka import AIOKafkaConsumer

        assert isinstance(consumer, AIOKafkaConsumer)
        lag = self.lag
        while True:
            batches = await consumer.getmany(timeout_ms=POLL_TIMEOUT_MS, max_records=MAX_RECORDS)
            if lag is not None:
                lag.received(batches)
                await lag.update(consumer)
            for tp, messages in batches.items():
                for message in messages:
                    try:
                        payload = json.loads(message.value or b"{}")
                        key = message.key.decode() if message.key else ""
                        await self.handler(Event(self.topic, key, payload))
                    except Exception:
                        log.exception("could not handle a playback event from Kafka")
                    if lag is not None:
                        lag.handled(consumer, tp, message.offset)

    async def stop(self) -> None:
        from aiokafka import AIOKafkaConsumer

        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if isinstance(self._consumer, AIOKafkaConsumer):
            await self._consumer.stop()
        self._consumer = None
        if self.lag is not None:
            self.lag.forget()
