"""Subscriptions through the gateway on loopback.

1. 1,000 subscribed devices (500 users with a phone and a TV, each device holding
   ``playbackProgress`` and ``remoteCommands`` over graphql-transport-ws): latency from the
   phone sending ``updatePlaybackProgress`` to the TV receiving the event (p50, p99), and
   from ``sendRemoteCommand`` to the TV receiving the command (p50, p99). Target p99 < 50 ms.
   First in an open loop at the rate the devices generate (each phone reporting every
   ``--report-every`` seconds, a command per ten reports), then saturated (``--concurrency``
   requests always in flight) to show the most one process sustains.
2. Memory of the gateway process holding 10,000 idle subscriptions (2,000 connections with
   5 distinct subscriptions each, no sharing): RSS before and after, per subscription.
   Target < 1 GB.

The gateway runs as its own process in the embedded mode (``media-gateway serve``, all
subgraphs in-process, SQLite in a temporary folder). Run:
``python bench/subscriptions.py [--users 500] [--rounds 3] [--report-every 10]
[--concurrency 20] [--idle 10000] [--port 5570] [--database-url URL] [--trace FILE]``.
The load generator shares the machine: it runs on uvloop and keeps its own garbage collector
out of the timed phases, so that its pauses are not counted as the gateway's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets

from media_gateway.app.serve import run_event_loop

PROGRESS = "subscription($d: ID) { playbackProgress(deviceId: $d) { positionSeconds deviceId } }"
COMMANDS = "subscription($d: ID!) { remoteCommands(deviceId: $d) { id type } }"
DEVICE = (
    "mutation($n: String!, $k: DeviceKind!, $c: [DeviceCapability!]) {"
    " registerDevice(name: $n, kind: $k, capabilities: $c) { id } }"
)
START = "mutation($c: ID!, $d: ID!) { startPlayback(contentId: $c, deviceId: $d) { id } }"
UPDATE = (
    "mutation($s: ID!, $p: Int!) {"
    " updatePlaybackProgress(sessionId: $s, positionSeconds: $p, state: PLAYING) { id } }"
)
SEND = (
    "mutation($t: ID!) { sendRemoteCommand(targetDeviceId: $t, command: {type: PAUSE},"
    " ttlSeconds: 30) { id } }"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Device:
    def __init__(self, url: str, token: str, device_id: str) -> None:
        self.url, self.token, self.id = url, token, device_id
        self.ws: Any = None
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def connect(self, subscriptions: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            open_timeout=60,
        )
        await self.ws.send(
            orjson.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}
            ).decode()
        )
        ack = orjson.loads(await self.ws.recv())
        assert ack["type"] == "connection_ack", ack
        for op_id, query, variables in subscriptions:
            await self.ws.send(
                orjson.dumps(
                    {
                        "id": op_id,
                        "type": "subscribe",
                        "payload": {"query": query, "variables": variables},
                    }
                ).decode()
            )
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                message = orjson.loads(raw)
                if message.get("type") == "ping":
                    await self.ws.send('{"type":"pong"}')
                    continue
                waiter = self.waiters.pop(message.get("id", ""), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(time.perf_counter())

    def expect(self, op_id: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[op_id] = future
        return future

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()


async def post(http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str) -> Any:
    response = await http.post(
        "/graphql",
        content=orjson.dumps({"query": query, "variables": variables}),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coro: Any) -> Any:
        async with semaphore:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))


async def latency(args: argparse.Namespace, base: str, tokens: list[tuple[str, str]]) -> None:
    ws_url = base.replace("http://", "ws://") + "/graphql"
    async with httpx.AsyncClient(
        base_url=base,
        timeout=60,
        limits=httpx.Limits(max_connections=100, keepalive_expiry=2),  # < the server's 5 s
    ) as http:

        async def setup(user: tuple[str, str]) -> dict[str, Any]:
            _, token = user
            phone = await post(http, DEVICE, {"n": "Phone", "k": "PHONE", "c": []}, token)
            tv = await post(
                http,
                DEVICE,
                {"n": "TV", "k": "TV", "c": ["REMOTE_CONTROL", "CAST_TARGET"]},
                token,
            )
            phone_id, tv_id = phone["registerDevice"]["id"], tv["registerDevice"]["id"]
            session = await post(http, START, {"c": "movie:arrival-2016", "d": phone_id}, token)
            return {
                "token": token,
                "phone": Device(ws_url, token, phone_id),
                "tv": Device(ws_url, token, tv_id),
                "session": session["startPlayback"]["id"],
            }

        t0 = time.perf_counter()
        users = await gather_limited([setup(u) for u in tokens], 50)
        print(
            f"  set up {len(users)} users and {2 * len(users)} devices in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        t0 = time.perf_counter()
        connects = []
        for u in users:
            for device in (u["phone"], u["tv"]):
                connects.append(
                    device.connect(
                        [
                            ("progress", PROGRESS, {"d": device.id}),
                            ("commands", COMMANDS, {"d": device.id}),
                        ]
                    )
                )
        await gather_limited(connects, 100)
        # every remoteCommands subscription marks its device online (a write each): wait
        # until writes are answered promptly again, so the measurement below is of the
        # steady state and not of this reconnect storm
        quick = 0
        while quick < 3:
            start = time.perf_counter()
            await post(http, UPDATE, {"s": users[0]["session"], "p": 30}, users[0]["token"])
            quick = quick + 1 if time.perf_counter() - start < 0.05 else 0
            await asyncio.sleep(0.2)
        print(
            f"  {2 * len(users)} devices subscribed ({4 * len(users)} subscriptions) in "
            f"{time.perf_counter() - t0:.1f} s"
        )

        progress: list[float] = []
        commands: list[float] = []
        trace: list[tuple[float, str, float]] = []
        mutation: list[float] = []
        position = iter(range(60, 10**9))

        async def one_progress(u: dict[str, Any]) -> None:
            waiter = u["tv"].expect("progress")
            start = time.perf_counter()
            await post(http, UPDATE, {"s": u["session"], "p": next(position)}, u["token"])
            mutation.append((time.perf_counter() - start) * 1000)
            progress.append((await asyncio.wait_for(waiter, 30) - start) * 1000)
            trace.append((start, "progress", progress[-1]))

        async def one_command(u: dict[str, Any]) -> None:
            waiter = u["tv"].expect("commands")
            start = time.perf_counter()
            await post(http, SEND, {"t": u["tv"].id}, u["token"])
            commands.append((await asyncio.wait_for(waiter, 30) - start) * 1000)
            trace.append((start, "command", commands[-1]))

        def report(label: str) -> None:
            print(
                f"  {label}: progress phone -> TV p50 {statistics.median(progress):.1f} ms, "
                f"p99 {pct(progress, 99):.1f} ms ({len(progress)} events; the mutation's own "
                f"round trip p50 {statistics.median(mutation):.1f} ms); remote command -> TV "
                f"p50 {statistics.median(commands):.1f} ms, p99 {pct(commands, 99):.1f} ms "
                f"({len(commands)} commands)"
            )

        # The load generator's own collector must not pause it while it times the gateway:
        # what it holds from here on is kept (gc.freeze) and collections wait until the
        # measurements are done.
        gc.collect()
        gc.freeze()
        gc.disable()

        # warm up (first plans, statement caches), not measured
        for u in users[:10]:
            await one_progress(u)
            await one_command(u)
        for measured in (progress, commands, mutation, trace):
            measured.clear()

        # Open loop, as devices behave: every phone reports its position every
        # `--report-every` seconds (spread evenly), and one user in ten sends a command per
        # report period; the arrivals do not wait for earlier answers.
        interval = args.report_every / len(users)
        tasks: list[asyncio.Task[None]] = []
        t0 = time.perf_counter()
        for r in range(args.rounds):
            for i, u in enumerate(users):
                due = t0 + (r * len(users) + i) * interval
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(one_progress(u)))
                if i % 10 == 5:  # halfway to the next report, not at the same instant
                    await asyncio.sleep(max(0.0, due + interval / 2 - time.perf_counter()))
                    tasks.append(asyncio.create_task(one_command(u)))
        await asyncio.gather(*tasks)
        rate = len(users) / args.report_every
        report(f"open loop, {rate:.0f} progress reports/s + {rate / 10:.0f} commands/s")
        if args.trace:  # one line per event: seconds into the loop, kind, latency in ms
            Path(args.trace).write_text(
                "".join(f"{at - t0:.3f} {kind} {ms:.1f}\n" for at, kind, ms in sorted(trace))
            )

        # Closed loop: `--concurrency` requests always in flight, i.e. the most this gateway
        # process sustains; latency here is mostly queueing.
        progress.clear(), commands.clear(), mutation.clear()
        t0 = time.perf_counter()
        await gather_limited([one_progress(u) for u in users], args.concurrency)
        throughput = len(users) / (time.perf_counter() - t0)
        await gather_limited([one_command(u) for u in users], args.concurrency)
        report(f"saturated, {args.concurrency} in flight, {throughput:.0f} progress reports/s")
        gc.enable()
        gc.unfreeze()
        await gather_limited([d.close() for u in users for d in (u["phone"], u["tv"])], 200)


async def idle_memory(args: argparse.Namespace, base: str, pid: int, mint: Any) -> None:
    ws_url = base.replace("http://", "ws://") + "/graphql"
    per_connection = 5
    connections = args.idle // per_connection
    await asyncio.sleep(2)
    before = rss_mb(pid)
    devices = []
    for i in range(connections):
        devices.append(Device(ws_url, mint(f"idle-{uuid.uuid4().hex[:12]}"), f"idle-{i}"))
    t0 = time.perf_counter()
    await gather_limited(
        [
            d.connect([(f"p{k}", PROGRESS, {"d": f"{d.id}-{k}"}) for k in range(per_connection)])
            for d in devices
        ],
        100,
    )
    await asyncio.sleep(5)
    after = rss_mb(pid)
    held = connections * per_connection
    print(
        f"  {held} idle subscriptions on {connections} connections opened in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    print(
        f"  gateway RSS {before:.0f} MB -> {after:.0f} MB: +{after - before:.0f} MB, "
        f"{(after - before) * 1024 / held:.1f} KB per subscription "
        f"(target: total < 1024 MB)"
    )
    await gather_limited([d.close() for d in devices], 200)


async def postgres(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def main_async(args: argparse.Namespace, data_dir: Path) -> None:
    env = {
        **os.environ,
        "MEDIA_GATEWAY_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "QDRANT_URL"):
        env.pop(name, None)
    if args.database_url:
        # PostgreSQL: a schema of its own, so the run leaves other data alone
        env["DATABASE_URL"] = args.database_url
        env["DATABASE_SCHEMA"] = f"bench_{uuid.uuid4().hex[:8]}"
        await postgres(args.database_url, f'CREATE SCHEMA "{env["DATABASE_SCHEMA"]}"')
    process = subprocess.Popen(
        [sys.executable, "-m", "media_gateway.cli", "serve", "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(args.gateway_log, "ab") if args.gateway_log else subprocess.DEVNULL,  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/health")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
            else:
                raise SystemExit("the gateway did not start")
        from media_gateway.auth.tokens import TokenService
        from media_gateway.platform.settings import Settings

        tokens = TokenService(Settings.from_env({"MEDIA_GATEWAY_DATA_DIR": str(data_dir)}))

        def mint(user_id: str) -> str:
            return tokens.issue_access_token(user_id)[0]

        store = "PostgreSQL" if args.database_url else "SQLite"
        print(f"gateway pid {process.pid} on {base} (embedded mode, {store})")
        print(f"1. {args.users} users x 2 devices")
        users = [
            (uid, mint(uid))
            for uid in (f"bench-{uuid.uuid4().hex[:12]}" for _ in range(args.users))
        ]
        await latency(args, base, users)
        print(f"2. {args.idle} idle subscriptions")
        if args.idle:
            await idle_memory(args, base, process.pid, mint)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        if args.database_url:
            await postgres(args.database_url, f'DROP SCHEMA "{env["DATABASE_SCHEMA"]}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3, help="report periods in the open loop")
    parser.add_argument(
        "--report-every", type=float, default=10.0, help="seconds between a phone's reports"
    )
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=5570)
    parser.add_argument("--gateway-log", help="append the gateway's log to this file")
    parser.add_argument("--trace", help="write the open loop's latencies, event by event")
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (default: SQLite in a temporary folder)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mg-bench-") as tmp:
        run_event_loop(main_async(args, Path(tmp)))


if __name__ == "__main__":
    main()
