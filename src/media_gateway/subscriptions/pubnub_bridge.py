"""Optional bridge of real-time events to per-user PubNub channels.

Devices that use PubNub directly receive the same events as GraphQL subscribers, on the
channel ``<prefix><user id>``. Enabled when ``PUBNUB_PUBLISH_KEY`` and
``PUBNUB_SUBSCRIBE_KEY`` are set and the ``pubnub`` extra is installed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from media_gateway.settings import Settings
from media_gateway.subscriptions.broker import Message

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "media-gateway."


class PubNubBridge:
    def __init__(self, settings: Settings) -> None:
        from pubnub.pnconfiguration import PNConfiguration
        from pubnub.pubnub import PubNub

        config = PNConfiguration()
        config.publish_key = settings.pubnub_publish_key
        config.subscribe_key = settings.pubnub_subscribe_key
        if settings.pubnub_secret_key:
            config.secret_key = settings.pubnub_secret_key
        config.user_id = "media-gateway"
        self._client: Any = PubNub(config)

    @staticmethod
    def channel_for(channel: str) -> str:
        # "user:<id>" -> "media-gateway.<id>"
        return CHANNEL_PREFIX + channel.partition(":")[2]

    async def __call__(self, channel: str, message: Message) -> None:
        target = self.channel_for(channel)
        publish = self._client.publish().channel(target).message(message)
        # the synchronous client does blocking I/O: keep it off the event loop
        await asyncio.to_thread(publish.sync)


def create_bridge(settings: Settings) -> PubNubBridge | None:
    if not (settings.pubnub_publish_key and settings.pubnub_subscribe_key):
        return None
    try:
        return PubNubBridge(settings)
    except ImportError:
        log.warning("PUBNUB_* keys are set but the pubnub package is not installed")
        return None
