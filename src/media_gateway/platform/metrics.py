"""What a subgraph service serves on ``GET /metrics``, in the Prometheus text format.

One registry per process (it lives on the ``Runtime`` the process's subgraphs share):

- ``outbox_unpublished_events{outbox}`` and ``outbox_oldest_unpublished_age_seconds{outbox}``:
  how many events of an outbox wait for the relay and for how long the oldest has waited,
  read from the outbox table at every scrape (0 and 0 when nothing waits);
- ``kafka_consumer_lag{group, topic, partition}``: for each partition assigned to a Kafka
  consumer group of this process, its end offset minus the offset of the next message to
  handle, updated while consuming.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_SECONDS = 2.0


# how many events of an outbox wait for the relay, and when the oldest was written
# (``media_gateway.storage.outbox.outbox_backlog`` reads one from its table)
Backlog = Callable[[], Awaitable[tuple[int, datetime | None]]]


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.outbox_pending = Gauge(
            "outbox_unpublished_events",
            "Events of an outbox not published yet.",
            ("outbox",),
            registry=self.registry,
        )
        self.outbox_age = Gauge(
            "outbox_oldest_unpublished_age_seconds",
            "Seconds since the oldest unpublished event of an outbox was written (0: none).",
            ("outbox",),
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "kafka_consumer_lag",
            "Messages of a partition not handled yet by a consumer group of this process.",
            ("group", "topic", "partition"),
            registry=self.registry,
        )
        self._outboxes: dict[str, Backlog] = {}

    def watch_outbox(self, name: str, backlog: Backlog) -> None:
        """Report the outbox whose backlog ``backlog`` reads as ``name``."""
        self._outboxes[name] = backlog
        self.outbox_pending.labels(name).set(0)
        self.outbox_age.labels(name).set(0)

    async def refresh_outboxes(self) -> None:
        """Read every watched outbox; one that cannot be read keeps its last figures."""
        for name, outbox in self._outboxes.items():
            try:
                async with asyncio.timeout(SCRAPE_TIMEOUT_SECONDS):
                    pending, oldest = await outbox()
            except Exception as exc:  # database away: the scrape still answers
                log.warning(
                    "outbox not readable for metrics",
                    extra={"outbox": name, "error": type(exc).__name__},
                )
                continue
            self.outbox_pending.labels(name).set(pending)
            age = (_now() - _as_utc(oldest)).total_seconds() if oldest is not None else 0.0
            self.outbox_age.labels(name).set(max(age, 0.0))

    async def exposition(self) -> tuple[bytes, str]:
        await self.refresh_outboxes()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def consumer(self, group: str) -> ConsumerLag:
        return ConsumerLag(self.consumer_lag, group)


def _now() -> datetime:
    return datetime.now(UTC)


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ConsumerLag:
    """The lag of one consumer group's assigned partitions, kept on a gauge.

    ``received`` is told each batch before it is handled and ``handled`` each message after,
    so the lag counts fetched messages until they are handled; ``update`` sets every
    assigned partition from the end offset the last fetch saw and drops revoked ones."""

    def __init__(self, gauge: Gauge, group: str) -> None:
        self.gauge = gauge
        self.group = group
        self._next: dict[Any, int] = {}  # TopicPartition -> offset of the next message
        self._shown: set[Any] = set()

    def _set(self, tp: Any, end: int, next_offset: int) -> None:
        self.gauge.labels(self.group, tp.topic, str(tp.partition)).set(max(end - next_offset, 0))
        self._shown.add(tp)

    def received(self, batches: Mapping[Any, Sequence[Any]]) -> None:
        for tp, messages in batches.items():
            if messages:
                self._next[tp] = messages[0].offset

    def handled(self, consumer: Any, tp: Any, offset: int) -> None:
        self._next[tp] = offset + 1
        end = consumer.highwater(tp)
        if end is not None:
            self._set(tp, end, offset + 1)

    async def update(self, consumer: Any) -> None:
        try:
            assigned = set(consumer.assignment())
            for tp in assigned:
                end = consumer.highwater(tp)
                if end is None:  # not fetched yet
                    continue
                next_offset = self._next.get(tp)
                if next_offset is None:
                    next_offset = await consumer.position(tp)
                self._set(tp, end, next_offset)
        except Exception:  # a rebalance under way: the next round sets it
            log.debug("consumer lag not updated", exc_info=True)
            return
        self.forget(self._shown - assigned)

    def forget(self, partitions: Iterable[Any] | None = None) -> None:
        """Drop the series of ``partitions`` (all when None), e.g. when the consumer stops."""
        for tp in list(self._shown if partitions is None else partitions):
            self._shown.discard(tp)
            self._next.pop(tp, None)
            with contextlib.suppress(KeyError):
                self.gauge.remove(self.group, tp.topic, str(tp.partition))
