"""Domain events between subgraphs, and tasks that run every so often.

Changes are written to an outbox table in the same transaction as the change itself (see
``media_gateway.storage.outbox``); a relay publishes them. In the embedded mode the bus is
in-process; the Kafka transport (``KAFKA_BOOTSTRAP_SERVERS``) plugs in behind the same
interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
