"""What checking for revoked sessions adds to a request.

python bench/revocation.py [--requests 2000] [--database-url URL] [--redis-url URL]

Three figures, on SQLite by default (``--database-url postgresql://...`` for PostgreSQL,
``--redis-url redis://...`` to learn revocations through Redis):

1. the check itself on the hot path (what this process knows is recent: no round trip);
2. one catch-up (what a process pays at most every quarter second, in the background);
3. ``{ me { id } }`` through the gateway (embedded: router + identity subgraph in process),
   with an access token that names its session (checked by the router and the subgraph)
   and with one that names none (no check at all), interleaved in rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from typing import Any

import httpx

from media_gateway.app import Platform, subgraph_sdls
from media_gateway.app.serve import build_gateway_app
from media_gateway.assembly.base import Runtime
from media_gateway.auth import revocation
from media_gateway.auth.revocation import RevokedSessions
from media_gateway.composition.compose import SubgraphSource, compose
from media_gateway.platform.settings import Settings

ME = {"query": "{ me { id } }"}


def _settings(data_dir: str, database_url: str | None, schema: str | None) -> Settings:
    env = {"MEDIA_GATEWAY_DATA_DIR": data_dir, "LOG_LEVEL": "ERROR"}
    if database_url:
        env["DATABASE_URL"] = database_url
    if schema:
        env["DATABASE_SCHEMA"] = schema
    return Settings.from_env(env)


async def _postgres(database_url: str, statement: str) -> None:
    import asyncpg

    from media_gateway.platform.settings import normalize_database_url

    dsn = normalize_database_url(database_url).replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _hot_check(sessions: RevokedSessions, rounds: int) -> float:
    """Microseconds per check while what the process knows is fresh."""
    await sessions.current()
    sessions.fresh_seconds = sessions.stale_seconds = 3600.0
    started = time.perf_counter()
    for _ in range(rounds):
        await sessions.check("a-session-that-was-never-revoked")
    return (time.perf_counter() - started) / rounds * 1e6


async def _catch_up(database: Any, redis_url: str | None, stream: str, rounds: int) -> float:
    """Milliseconds per catch-up with nothing new (the common case)."""
    sessions = RevokedSessions(database, redis_url, stream_key=stream, backstop_seconds=3600)
    await sessions.current()
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        await sessions._update()
        timings.append(time.perf_counter() - started)
    await sessions.aclose()
    return statistics.median(timings) * 1000


async def _latencies(http: httpx.AsyncClient, token: str, requests: int) -> list[float]:
    headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await http.post("/graphql", json=ME, headers=headers)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    return timings


async def run(requests: int, database_url: str | None, redis_url: str | None) -> None:
    schema = f"bench_revocation_{uuid.uuid4().hex[:8]}" if database_url else None
    if database_url:  # a schema of its own, dropped afterwards
        await _postgres(database_url, f'CREATE SCHEMA "{schema}"')
    try:
        await _run(requests, database_url, redis_url, schema)
    finally:
        if database_url:
            await _postgres(database_url, f'DROP SCHEMA "{schema}" CASCADE')


async def _run(
    requests: int, database_url: str | None, redis_url: str | None, schema: str | None
) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = _settings(data_dir, database_url, schema)
        platform = Platform.create(Runtime.create(settings))
        database = platform.runtime.database
        stream = f"bench:revocations:{uuid.uuid4().hex[:8]}"
        sessions = RevokedSessions(database, redis_url, stream_key=stream)
        revocation.install(database, sessions)
        await platform.startup()
        backend = ("PostgreSQL" if database_url else "SQLite") + (" + Redis" if redis_url else "")
        try:
            sdl = compose([SubgraphSource(n, u, s) for n, u, s in subgraph_sdls()]).supergraph_sdl
            app = build_gateway_app(platform, str(sdl))
            services = platform["identity"].service
            from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD

            session = await services.sign_in.login(DEMO_EMAIL, DEMO_PASSWORD, None)
            with_sid = session.access_token
            without_sid, _ = services.sessions.tokens.issue_access_token(session.user.id)

            checks = 200_000
            hot = await _hot_check(RevokedSessions(database, None), checks)
            catch_up = await _catch_up(database, redis_url, stream, 200)
            print(f"backend: {backend}")
            print(f"hot-path check (fresh state, no round trip): {hot:.2f} us per check")
            print(f"catch-up with nothing new (background, <= 4/s per process): {catch_up:.3f} ms")

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                await _latencies(http, with_sid, 200)  # warm up both paths
                await _latencies(http, without_sid, 200)
                checked: list[float] = []
                unchecked: list[float] = []
                per_round = max(1, requests // 10)
                for _ in range(10):
                    checked += await _latencies(http, with_sid, per_round)
                    unchecked += await _latencies(http, without_sid, per_round)
            for name, values in (("with the check", checked), ("without", unchecked)):
                values.sort()
                p50 = values[len(values) // 2] * 1000
                print(
                    f"gateway {{ me {{ id }} }} {name}: p50 {p50:.3f} ms"
                    f", p99 {values[int(len(values) * 0.99)] * 1000:.3f} ms"
                    f", mean {statistics.fmean(values) * 1000:.3f} ms ({len(values)} requests)"
                )
            added = (statistics.median(checked) - statistics.median(unchecked)) * 1e6
            print(f"added per request (difference of medians): {added:.0f} us")
        finally:
            await platform.shutdown()
            if redis_url:
                import redis.asyncio as redis

                client = redis.Redis.from_url(redis_url)
                await client.delete(stream)
                await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.database_url, args.redis_url))


if __name__ == "__main__":
    main()
