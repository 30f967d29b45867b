"""``media_gateway.platform.ratelimit``: the sliding window in process and in Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from media_gateway.platform.ratelimit import RateDecision, SlidingWindowLimiter

REDIS_URL = os.environ.get("TEST_REDIS_URL")
KINDS = [
    "memory",
    pytest.param(
        "redis",
        marks=[
            pytest.mark.redis,
            pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set"),
        ],
    ),
]


@pytest.fixture(params=KINDS)
async def limiter(request: pytest.FixtureRequest) -> SlidingWindowLimiter:
    url = REDIS_URL if request.param == "redis" else None
    made = SlidingWindowLimiter(url, f"mgtest:rl:{uuid.uuid4().hex[:10]}")
    yield made  # type: ignore[misc]
    if url:
        for key in ("a", "b", "window"):
            await made.reset(key)
    await made.aclose()


async def test_limit_then_refuse_with_retry_after(limiter: SlidingWindowLimiter) -> None:
    decisions = [await limiter.hit("a", 3, 60) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[0].retry_after == 0
    refused = decisions[-1]
    assert isinstance(refused, RateDecision)
    assert 0 < refused.retry_after <= 60 and 0 < refused.reset_after <= 60
    # keys are independent
    assert (await limiter.hit("b", 3, 60)).allowed


async def test_the_window_slides(limiter: SlidingWindowLimiter) -> None:
    assert (await limiter.hit("window", 1, 0.2)).allowed
    assert not (await limiter.hit("window", 1, 0.2)).allowed
    await asyncio.sleep(0.3)
    assert (await limiter.hit("window", 1, 0.2)).allowed


async def test_concurrent_hits_never_exceed_the_limit(limiter: SlidingWindowLimiter) -> None:
    results = await asyncio.gather(*(limiter.hit("a", 5, 60) for _ in range(20)))
    assert sum(d.allowed for d in results) == 5
    await limiter.reset("a")
    assert (await limiter.hit("a", 5, 60)).allowed


async def test_weighted_hits_spend_the_budget_by_cost(limiter: SlidingWindowLimiter) -> None:
    first = await limiter.hit("budget", 10, 30, cost=6)
    assert first.allowed and first.remaining == 4
    refused = await limiter.hit("budget", 10, 30, cost=5)  # 6 + 5 > 10: refused, not counted
    assert not refused.allowed and refused.retry_after > 0
    fits = await limiter.hit("budget", 10, 30, cost=4)
    assert fits.allowed and fits.remaining == 0
    assert not (await limiter.hit("budget", 10, 30, cost=11)).allowed  # larger than the limit
