"""Sliding-window rate limits: a Redis sorted set per key, or an in-process log.

``SlidingWindowLimiter(redis_url, prefix)`` counts the hits of a key over the last
``window_seconds``; a hit beyond ``limit`` is refused (and not counted) with the time until
the oldest counted hit leaves the window. A hit may weigh more than one (``cost``), for
budgets such as query cost per client per minute. With Redis every check is one atomic Lua
script, so any number of gateway or subgraph replicas share the same counters; without Redis
the counts live in this process, and they do too while Redis cannot be reached (with a
warning in the log, and Redis tried again every few seconds): a missing Redis weakens
limits shared between replicas, it never turns every request into an error.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from media_gateway.platform.redis_link import RedisLink, redis_errors


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one hit.

    ``retry_after``: seconds until a refused hit could succeed (0 when allowed);
    ``reset_after``: seconds until the window holds no hit of this key any more.
    """

    allowed: bool
    remaining: int
    retry_after: float
    reset_after: float


@dataclass(frozen=True)
class WindowUsage:
    """What a key spent in the window: ``used`` (the sum of its hits' costs) and the age in
    seconds of its newest and oldest hits (``None`` when it has none)."""

    used: int
    newest_age: float | None
    oldest_age: float | None


# KEYS[1] the sorted set; ARGV: now (ms), window (ms), limit, member, cost.
# A member is "<ms>-<random>-<cost>"; the window's usage is the sum of its members' costs.
_SLIDING_WINDOW_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local cost = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = 0
for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
  used = used + tonumber(string.match(m, '%-(%d+)$'))
end
local allowed = 0
if used + cost <= limit then
  redis.call('ZADD', key, now, ARGV[4])
  used = used + cost
  allowed = 1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
local oldest_score = now
local newest_score = now
if oldest[2] then oldest_score = tonumber(oldest[2]) end
if newest[2] then newest_score = tonumber(newest[2]) end
redis.call('PEXPIRE', key, window)
return {allowed, used, tostring(oldest_score), tostring(newest_score)}
"""


class SlidingWindowLimiter:
    """Counts hits per key over a sliding window (Redis when ``redis_url`` is set)."""

    def __init__(self, redis_url: str | None, prefix: str) -> None:
        self.redis_url = redis_url
        self.prefix = prefix.rstrip(":")
        self._link = RedisLink(
            redis_url,
            "rate limits are counted in this process until it answers again",
            limiter=self.prefix,
        )
        self._script: Any = None
        self._local: dict[str, deque[tuple[float, int]]] = {}
        self._longest_window = 0.0
        self._lock = asyncio.Lock()

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def hit(self, key: str, limit: int, window_seconds: float, cost: int = 1) -> RateDecision:
        """Count one hit of ``key`` weighing ``cost``; refused when it would take the window's
        total over ``limit``."""
        cost = max(1, int(cost))
        if limit <= 0 or cost > limit:
            return RateDecision(False, 0, window_seconds, window_seconds)
        if self._link.usable:
            try:
                return await self._hit_redis(self._key(key), limit, window_seconds, cost)
            except redis_errors() as exc:
                self._link.failed(exc)
        return await self._hit_local(self._key(key), limit, window_seconds, cost)

    async def usage(self, key: str, window_seconds: float) -> WindowUsage:
        """What ``key`` spent over the last ``window_seconds``, without counting a hit."""
        if self._link.usable:
            try:
                return await self._usage_redis(self._key(key), window_seconds)
            except redis_errors() as exc:
                self._link.failed(exc)
        return await self._usage_local(self._key(key), window_seconds)

    async def reset(self, key: str) -> None:
        """Forget every hit of ``key``."""
        self._local.pop(self._key(key), None)
        if self._link.usable:
            try:
                await self._link.client().delete(self._key(key))
            except redis_errors() as exc:
                self._link.failed(exc)

    async def aclose(self) -> None:
        await self._link.aclose()
        self._script = None

    # -- Redis ---------------------------------------------------------------------------
    async def _hit_redis(self, key: str, limit: int, window: float, cost: int) -> RateDecision:
        client = self._link.client()
        if self._script is None:
            self._script = client.register_script(_SLIDING_WINDOW_LUA)
        if self._link.down_since is not None:
            await client.ping()
            self._link.answered("rate limits are shared again")
        window_ms = max(1, math.ceil(window * 1000))
        now_ms = int(time.time() * 1000)
        member = f"{now_ms}-{uuid.uuid4().hex[:12]}-{cost}"
        allowed, count, oldest, newest = await self._script(
            keys=[key], args=[now_ms, window_ms, limit, member, cost]
        )
        oldest_ms, newest_ms = float(oldest), float(newest)
        return self._decision(
            bool(int(allowed)),
            int(count),
            limit,
            (oldest_ms + window_ms - now_ms) / 1000,
            (newest_ms + window_ms - now_ms) / 1000,
        )

    async def _usage_redis(self, key: str, window: float) -> WindowUsage:
        client = self._link.client()
        now_ms = time.time() * 1000
        members = await client.zrangebyscore(key, now_ms - window * 1000, "+inf", withscores=True)
        if not members:
            return WindowUsage(0, None, None)
        used = sum(int(str(member).rsplit("-", 1)[1]) for member, _score in members)
        scores = [float(score) for _member, score in members]
        return WindowUsage(
            used, max(0.0, (now_ms - max(scores)) / 1000), max(0.0, (now_ms - min(scores)) / 1000)
        )

    # -- in-process ----------------------------------------------------------------------
    async def _usage_local(self, key: str, window: float) -> WindowUsage:
        async with self._lock:
            now = time.monotonic()
            hits = [(t, c) for t, c in self._local.get(key, ()) if t > now - window]
        if not hits:
            return WindowUsage(0, None, None)
        return WindowUsage(sum(c for _t, c in hits), now - hits[-1][0], now - hits[0][0])

    async def _hit_local(self, key: str, limit: int, window: float, cost: int) -> RateDecision:
        async with self._lock:
            now = time.monotonic()
            self._longest_window = max(self._longest_window, window)
            hits = self._local.setdefault(key, deque())
            while hits and hits[0][0] <= now - window:
                hits.popleft()
            used = sum(c for _t, c in hits)
            allowed = used + cost <= limit
            if allowed:
                hits.append((now, cost))
                used += cost
            oldest = hits[0][0] if hits else now
            newest = hits[-1][0] if hits else now
            if len(self._local) > 100_000:  # forget idle keys now and then
                self._prune(now, self._longest_window)
            return self._decision(
                allowed, used, limit, oldest + window - now, newest + window - now
            )

    def _prune(self, now: float, window: float) -> None:
        for name in [k for k, v in self._local.items() if not v or v[-1][0] <= now - window]:
            del self._local[name]

    @staticmethod
    def _decision(
        allowed: bool, count: int, limit: int, until_oldest: float, until_newest: float
    ) -> RateDecision:
        return RateDecision(
            allowed=allowed,
            remaining=max(0, limit - count),
            retry_after=0.0 if allowed else max(0.0, round(until_oldest, 3)),
            reset_after=max(0.0, round(until_newest, 3)),
        )
