"""Publish/subscribe brokers: in-process, or Redis pub/sub across processes.

A message is a JSON object sent to a named channel. Every subscriber of the channel, in
this process (``InProcessBroker``) or in any process connected to the same Redis
(``RedisBroker``), receives it. Delivery is at most once and live only: what a subscriber
misses while away is replayed from the event log (see ``log.py``), not from the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)

Message = dict[str, Any]
QUEUE_LIMIT = 1000


class BrokerSubscription:
    """One subscriber's queue of messages for one channel (an async iterator)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_LIMIT)
        self.dropped = 0

    def offer(self, message: Message) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # a subscriber that does not keep up loses the oldest message, never blocks others
            self.dropped += 1
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(message)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        return await self.queue.get()


class Broker(Protocol):
    async def publish(self, channel: str, message: Mapping[str, Any]) -> None: ...

    def subscribe(
        self, channel: str
    ) -> contextlib.AbstractAsyncContextManager[BrokerSubscription]: ...

    async def close(self) -> None: ...


class _LocalFanOut:
    def __init__(self) -> None:
        self.subscribers: dict[str, set[BrokerSubscription]] = defaultdict(set)

    def deliver(self, channel: str, message: Message) -> None:
        for sub in list(self.subscribers.get(channel, ())):
            sub.offer(message)

    def add(self, sub: BrokerSubscription) -> bool:
        """Register; True when it is the channel's first local subscriber."""
        first = not self.subscribers.get(sub.channel)
        self.subscribers[sub.channel].add(sub)
        return first

    def remove(self, sub: BrokerSubscription) -> bool:
        """Unregister; True when the channel has no local subscriber left."""
        subs = self.subscribers.get(sub.channel)
        if subs is None:
            return False
        subs.discard(sub)
        if not subs:
            del self.subscribers[sub.channel]
            return True
        return False


class InProcessBroker:
    """Channels within one process (the embedded mode)."""

    def __init__(self) -> None:
        self._local = _LocalFanOut()

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        self._local.deliver(channel, dict(message))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[BrokerSubscription]:
        sub = BrokerSubscription(channel)
        self._local.add(sub)
        try:
            yield sub
        finally:
            self._local.remove(sub)

    async def close(self) -> None:
        return None


class RedisBroker:
    """Channels shared by every process connected to one Redis (``REDIS_URL``).

    One Redis connection carries all of this process's channel subscriptions; messages are
    fanned out locally to each subscriber.
    """

    def __init__(self, url: str, *, prefix: str = "media-gateway:rt:") -> None:
        import redis.asyncio as redis

        self.prefix = prefix
        self._redis = redis.Redis.from_url(url)
        self._pubsub = self._redis.pubsub()
        self._local = _LocalFanOut()
        self._reader: asyncio.Task[None] | None = None
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        await self._redis.publish(self.prefix + channel, orjson.dumps(dict(message)))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[BrokerSubscription]:
        sub = BrokerSubscription(channel)
        async with self._lock:
            if self._local.add(sub):
                event = self._confirmed[channel] = asyncio.Event()
                await self._pubsub.subscribe(self.prefix + channel)
                if self._reader is None:
                    self._reader = asyncio.create_task(self._read(), name="redis-broker")
            else:
                event = self._confirmed.get(channel) or asyncio.Event()
        with contextlib.suppress(TimeoutError):
            # wait until Redis confirms, so that nothing published after this returns is lost
            await asyncio.wait_for(event.wait(), 5)
        try:
            yield sub
        finally:
            async with self._lock:
                if self._local.remove(sub):
                    self._confirmed.pop(channel, None)
                    with contextlib.suppress(Exception):
                        await self._pubsub.unsubscribe(self.prefix + channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: back off and resubscribe
                log.warning("redis broker read failed: %s", exc.__class__.__name__)
                await asyncio.sleep(0.5)
                continue
            if message is None:
                if not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)
                continue
            raw_channel = message.get("channel")
            channel = raw_channel.decode() if isinstance(raw_channel, bytes) else str(raw_channel)
            channel = channel[len(self.prefix) :]
            kind = message.get("type")
            if kind == "subscribe":
                event = self._confirmed.get(channel)
                if event is not None:
                    event.set()
            elif kind == "message":
                try:
                    payload = orjson.loads(message["data"])
                except orjson.JSONDecodeError:
                    continue
                if isinstance(payload, dict):
                    self._local.deliver(channel, payload)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()


def create_broker(redis_url: str | None) -> Broker:
    """Redis pub/sub when a URL is configured, in-process channels otherwise."""
    if redis_url:
        return RedisBroker(redis_url)
    return InProcessBroker()
