"""A Redis connection that an unreachable server never turns into client errors.

Rate limits, short-lived codes and persisted queries keep working without Redis: each falls
back to something of its own (counts in this process, rows in the database, an in-process
LRU). `RedisLink` holds what they share: the client (created on first use, with short
timeouts), whether Redis is to be tried (not for `RETRY_SECONDS` after a failure), and one
warning when it stops answering, naming what takes over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
TIMEOUT_SECONDS = 2.0


def redis_errors() -> tuple[type[BaseException], ...]:
    """What an unreachable or failing Redis raises."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)


class RedisLink:
    """`url` None: Redis is not configured and never used. `fallback` completes the warning
    "Redis is unreachable: ..." (what is done instead until it answers again)."""

    def __init__(self, url: str | None, fallback: str, **log_extra: Any) -> None:
        self.url = url
        self.fallback = fallback
        self.log_extra = log_extra
        self.down_since: float | None = None
        self._client: Any = None

    @property
    def usable(self) -> bool:
        """Configured, and not known to be down (it is tried again after a pause)."""
        if not self.url:
            return False
        return self.down_since is None or time.monotonic() - self.down_since >= RETRY_SECONDS

    def client(self) -> Any:
        if self._client is None:
            import redis.asyncio as redis

            self._client = redis.Redis.from_url(
                self.url or "",
                decode_responses=True,
                socket_connect_timeout=TIMEOUT_SECONDS,
                socket_timeout=TIMEOUT_SECONDS,
            )
        return self._client

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            log.warning(
                f"Redis is unreachable: {self.fallback}",
                extra={"service": "redis", "error": type(exc).__name__, **self.log_extra},
            )
        self.down_since = time.monotonic()

    def answered(self, again: str) -> None:
        """Redis answered: after an outage, say `again` (what is shared once more)."""
        if self.down_since is not None:
            log.info(f"Redis answers again: {again}", extra={"service": "redis"})
            self.down_since = None

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                await client.aclose()
            except redis_errors():
                pass
