"""Optional bridge of real-time events to per-user PubNub channels.

Devices that use PubNub directly receive the same events as GraphQL subscribers, on the
channel ``<prefix><user id>``. Enabled when ``PUBNUB_PUBLISH_KEY`` and
``PUBNUB_SUBSCRIBE_KEY`` are set and the ``pubnub`` extra is installed; ``PUBNUB_ORIGIN``
names another origin (a dedicated PubNub domain; ``http://`` for one without TLS).

Publishing never holds the writer: events wait in a bounded queue that one task delivers in
order. A slow or unreachable PubNub drops the oldest waiting events (logged); devices catch
up through ``syncState``/``since`` from the event log, which has them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from media_gateway.platform.settings import Settings
from media_gateway.realtime.broker import Message

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "media-gateway."
QUEUE_SIZE = 10_000


class PubNubBridge:
    def __init__(self, settings: Settings, *, queue_size: int = QUEUE_SIZE) -> None:
        from pubnub.pnconfiguration import PNConfiguration
        from pubnub.pubnub_asyncio import PubNubAsyncio

        config = PNConfiguration()
        config.publish_key = settings.pubnub_publish_key
        config.subscribe_key = settings.pubnub_subscribe_key
        if settings.pubnub_secret_key:
            config.secret_key = settings.pubnub_secret_key
        origin = settings.pubnub_origin
        if origin:
            config.ssl = not origin.startswith("http://")
            config.origin = origin.removeprefix("http://").removeprefix("https://")
        config.user_id = "media-gateway"
        self._client: Any = PubNubAsyncio(config)
        self._queue: asyncio.Queue[tuple[str, Message]] = asyncio.Queue(queue_size)
        self._worker: asyncio.Task[None] | None = None
        self.dropped = 0

    @staticmethod
    def channel_for(channel: str) -> str:
        # "user:<id>" -> "media-gateway.<id>"
        return CHANNEL_PREFIX + channel.partition(":")[2]

    async def __call__(self, channel: str, message: Message) -> None:
        """Queue the event for PubNub and return at once."""
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self.dropped += 1
            log.warning("PubNub is behind: dropped the oldest waiting event")
        self._queue.put_nowait((self.channel_for(channel), message))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._deliver(), name="pubnub-bridge")

    async def _deliver(self) -> None:
        while True:
            target, message = await self._queue.get()
            try:
                await self._client.publish().channel(target).message(message).result()
            except Exception as exc:  # the event log still has it
                log.warning("PubNub publish failed: %s", exc.__class__.__name__)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until every queued event has been handed to PubNub (or failed)."""
        await self._queue.join()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self._client.stop()


def create_bridge(settings: Settings) -> PubNubBridge | None:
    if not (settings.pubnub_publish_key and settings.pubnub_subscribe_key):
        return None
    try:
        return PubNubBridge(settings)
    except ImportError:
        log.warning("PUBNUB_* keys are set but the pubnub package is not installed")
        return None
