"""The router under hostile documents: CPU per refusal, and /health while they arrive.

Starts the standalone router (`media-gateway gateway`) on the product's supergraph as its own
process (no subgraph is needed: every document here is refused before any fetch), then, for
each hostile class, sends N distinct documents (a counter in a comment defeats every cache,
as an attacker would) one after another and reads the router process's CPU time
(user + system, from /proc) before and after: the figure is CPU milliseconds per refusal,
logging included. For reference the same is measured for a trivial valid query.

Then, for each class, one client sends such documents back to back over 4 connections while
a probe asks GET /health every 10 ms on its own connection; the probe's latency p50/p99/max
is printed. The load generator runs on the same machine (2 cores): its own CPU competes.

    python bench/hostile.py [--requests 200] [--seconds 5]

Goal (issue: hostile input): every refusal under 5 ms of CPU; /health p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SUPERGRAPH = ROOT / "src" / "media_gateway" / "schema" / "supergraph.graphql"
TICKS = os.sysconf("SC_CLK_TCK")


def fragment_explosion(levels: int, spreads: int) -> Callable[[int], Any]:
    parts = ["query { ...F0 }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on Query {{ " + " ".join([f"...F{i + 1}"] * spreads) + " }")
    parts.append(f"fragment F{levels} on Query {{ __typename }}")
    text = "\n".join(parts)
    return lambda n: {"query": f"{text}\n# {n}"}


def aliases(count: int) -> Callable[[int], Any]:
    text = "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"
    return lambda n: {"query": f"{text}\n# {n}"}


def deep(levels: int) -> Callable[[int], Any]:
    text = "{ trending { " + "similar { " * levels + "id" + " }" * levels + " } }"
    return lambda n: {"query": f"{text}\n# {n}"}


def batch(size: int) -> Callable[[int], Any]:
    return lambda n: [{"query": f"{{ __typename }} # {n} {i}"} for i in range(size)]


def cost(n: int) -> Any:
    big = "(first: 2147483647)"
    query = f"{{ trending{big} {{ similar{big} {{ similar{big} {{ id }} }} }} }}"
    return {"query": f"{query}\n# {n}"}


CLASSES: list[tuple[str, Callable[[int], Any]]] = [
    ("fragment explosion 2^20 fields", fragment_explosion(20, 2)),
    ("fragment explosion 10^9 fields", fragment_explosion(9, 10)),
    ("10,000 aliases", aliases(10_000)),
    ("nesting 1,000 deep", deep(1000)),
    ("cost beyond 2^64", cost),
    ("batch of 1,000 operations", batch(1000)),
]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def refusal_cpu(
    http: httpx.AsyncClient, url: str, pid: int, make: Callable[[int], Any], requests: int
) -> tuple[float, set[str]]:
    codes: set[str] = set()
    await http.post(url, json=make(-1))  # warm the path
    before = cpu_seconds(pid)
    for n in range(requests):
        r = await http.post(url, json=make(n))
        if r.status_code >= 500:
            raise SystemExit(f"{r.status_code}: {r.text[:200]}")
        body = r.json()
        for item in body if isinstance(body, list) else [body]:
            for e in item.get("errors", []):
                codes.add(str(e["extensions"]["code"]))
    return (cpu_seconds(pid) - before) / requests * 1000, codes


async def health_under_attack(base: str, make: Callable[[int], Any], seconds: float) -> list[float]:
    stop = asyncio.Event()

    async def attacker(offset: int) -> None:
        n = offset
        async with httpx.AsyncClient(timeout=60) as http:
            while not stop.is_set():
                await http.post(f"{base}/graphql", json=make(n))
                n += 4

    attackers = [asyncio.create_task(attacker(i)) for i in range(4)]
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.sleep(0.2)
        ends = time.perf_counter() + seconds
        while time.perf_counter() < ends:
            started = time.perf_counter()
            r = await http.get(f"{base}/health")
            latencies.append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*attackers, return_exceptions=True)
    return latencies


async def idle_health(base: str, probes: int = 200) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(probes):
            started = time.perf_counter()
            await http.get(f"{base}/health")
            latencies.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.01)
    return latencies


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": "INFO", "GATEWAY_RATE_LIMIT": "off"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "media_gateway.cli",
            "gateway",
            "--supergraph",
            str(SUPERGRAPH),
            "--port",
            str(port),
            "--no-graphiql",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{base}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            ms, _ = await refusal_cpu(
                http,
                f"{base}/graphql",
                process.pid,
                lambda n: {"query": f"{{ __typename }} # {n}"},
                args.requests,
            )
            print(f"router: pid {process.pid}, {args.requests} distinct documents per class\n")
            print(f"{'document':34} {'CPU ms/request':>15}  refused with")
            print(f"{'valid { __typename } (reference)':34} {ms:15.2f}  -")
            for name, make in CLASSES:
                ms, codes = await refusal_cpu(
                    http, f"{base}/graphql", process.pid, make, args.requests
                )
                print(f"{name:34} {ms:15.2f}  {', '.join(sorted(codes))}")
        print(
            f"\n/health latency (ms) while 4 connections send each class back to back "
            f"for {args.seconds:g} s"
        )
        print(f"{'document':34} {'probes':>7} {'p50':>7} {'p99':>7} {'max':>7}")
        rows = [("none (idle)", await idle_health(base))]
        for name, make in CLASSES:
            rows.append((name, await health_under_attack(base, make, args.seconds)))
        for name, lat in rows:
            print(
                f"{name:34} {len(lat):7d} {statistics.median(lat):7.2f} "
                f"{percentile(lat, 99):7.2f} {max(lat):7.2f}"
            )
    finally:
        process.terminate()
        process.wait(timeout=20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0)
    asyncio.run(main(parser.parse_args()))
