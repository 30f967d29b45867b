"""Domain events between subgraphs.

Changes are written to an outbox table in the same transaction as the change itself; a
relay publishes them. In the embedded mode the bus is in-process; the Kafka transport
(``KAFKA_BOOTSTRAP_SERVERS``) plugs in behind the same interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import SQLModel, col, delete

from media_gateway.storage.database import Database
from media_gateway.storage.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    topic: str
    key: str
    payload: Mapping[str, Any]


Handler = Callable[[Event], Awaitable[None]]


class EventBus:
    """In-process publish/subscribe by topic; handlers run in publication order."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers[topic].append(handler)

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._handlers.get(topic))

    async def publish(self, event: Event) -> None:
        for handler in list(self._handlers.get(event.topic, ())):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler failed", extra={"topic": event.topic})
                raise


class PeriodicTask:
    """Runs ``step`` every ``interval`` seconds until stopped."""

    def __init__(self, name: str, step: Callable[[], Awaitable[Any]], interval: float) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.step()
            except Exception:
                log.exception("periodic task failed", extra={"task": self.name})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(self._task, timeout=5)
        except TimeoutError:
            self._task.cancel()
        self._task = None


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
