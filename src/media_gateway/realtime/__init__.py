"""The real-time event log behind GraphQL subscriptions.

One ``Realtime`` per process and database: an event log for catch-up, a broker for live
fan-out (Redis pub/sub when ``REDIS_URL`` is set, in-process otherwise) and, when PubNub
keys are configured, a bridge to per-user PubNub channels. Subgraphs that share a runtime
share it (``acquire``/``release``).
"""

from __future__ import annotations

import weakref

from media_gateway.platform.settings import Settings
from media_gateway.realtime.broker import (
    Broker,
    InProcessBroker,
    RedisBroker,
    create_broker,
)
from media_gateway.realtime.hlc import HybridLogicalClock, InvalidTimestamp, Timestamp
from media_gateway.realtime.log import (
    InvalidCursor,
    PendingEvents,
    Realtime,
    parse_cursor,
    user_channel,
)
from media_gateway.storage.database import Database

__all__ = [
    "Broker",
    "HybridLogicalClock",
    "InProcessBroker",
    "InvalidCursor",
    "InvalidTimestamp",
    "PendingEvents",
    "Realtime",
    "RedisBroker",
    "Timestamp",
    "create_broker",
    "parse_cursor",
    "realtime_for",
    "user_channel",
]

_shared: weakref.WeakKeyDictionary[Database, Realtime] = weakref.WeakKeyDictionary()


def realtime_for(database: Database, settings: Settings) -> Realtime:
    """The process's ``Realtime`` for this database (made on first use, then shared)."""
    realtime = _shared.get(database)
    if realtime is None:
        from media_gateway.realtime.pubnub_bridge import create_bridge

        bridge = create_bridge(settings)
        realtime = Realtime(
            database,
            create_broker(settings.redis_url),
            bridges=[bridge] if bridge is not None else [],
        )
        _shared[database] = realtime
    return realtime
