"""Throughput of ``SlidingWindowLimiter.hit`` in process and (with REDIS_URL) in Redis.

python bench/ratelimit.py [--hits 20000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

from media_gateway.platform.ratelimit import SlidingWindowLimiter


async def run(redis_url: str | None, hits: int, concurrency: int) -> tuple[float, float]:
    limiter = SlidingWindowLimiter(redis_url, f"bench:rl:{uuid.uuid4().hex[:8]}")
    keys = [f"client-{i}" for i in range(100)]
    latencies: list[float] = []
    counter = iter(range(hits))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await limiter.hit(keys[i % len(keys)], 1_000, 60)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    for key in keys:
        await limiter.reset(key)
    await limiter.aclose()
    latencies.sort()
    return hits / elapsed, latencies[int(len(latencies) * 0.99)] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    backends: list[tuple[str, str | None]] = [("in-process", None)]
    if os.environ.get("REDIS_URL"):
        backends.append(("redis", os.environ["REDIS_URL"]))
    for name, url in backends:
        rate, p99 = asyncio.run(run(url, args.hits, args.concurrency))
        print(f"{name:>10}: {rate:10.0f} hits/s   p99 {p99:7.3f} ms   ({args.hits} hits)")


if __name__ == "__main__":
    main()
