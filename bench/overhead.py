"""The gateway's own overhead.

1. Added latency: p50 of a one-subgraph query sent through the gateway, minus p50 of the
   same subgraph operation sent to the subgraph directly (sequential requests on one
   keep-alive connection; gateway pinned to core 0, subgraph and client on core 1), and the
   gateway's CPU time per request (from /proc: a figure that other work on the machine
   does not inflate as much as it does latency).
2. Planning time of the federation benchmark query, in process: parse + validate and plan,
   cold (a fresh router each time) and cached (the same router again).

Run: ``python bench/overhead.py [--iterations 2000]`` (uses bench/federation's subgraphs and
supergraph; ports 5331 and 5340).
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
FED = HERE / "federation"
SUBGRAPH_PORT = 5331
GATEWAY_PORT = 5340

CLIENT_QUERY = "query TopProducts { topProducts { upc name price weight } }"
SUBGRAPH_QUERY = "query TopProducts { topProducts { upc name price weight } }"


def pinned(core: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", core, *argv]


def start(argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(5)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants, from /proc."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        stats[int(entry)] = (int(fields[1]), seconds)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, (0, 0.0))[1]
        todo.extend(c for c, (ppid, _s) in stats.items() if ppid == p)
    return total


def timed_requests(port: int, body: bytes, n: int, warmup: int = 200) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"content-type": "application/json", "accept": "application/json"}
    out = []
    for i in range(warmup + n):
        headers["x-request-id"] = f"overhead-{port}-{i}"
        t0 = time.perf_counter()
        conn.request("POST", "/graphql", body, headers)
        resp = conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != 200 or b'"errors"' in data:
            raise RuntimeError(f"port {port}: HTTP {resp.status} {data[:300]!r}")
        if i >= warmup:
            out.append(elapsed)
    conn.close()
    return out


def wait_ready(port: int, body: bytes, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited")
        try:
            timed_requests(port, body, 1, warmup=0)
            return
        except (OSError, RuntimeError):
            time.sleep(0.2)
    raise RuntimeError(f"nothing answers on port {port}")


def added_latency(iterations: int) -> None:
    os.sched_setaffinity(0, {1})
    supergraph = FED / "supergraph.graphql"
    sub = start(
        pinned(
            "1",
            [sys.executable, str(FED / "subgraphs.py"), "products", "--port", str(SUBGRAPH_PORT)],
        )
    )
    gw = start(
        pinned(
            "0",
            [
                str(Path(sys.executable).parent / "media-gateway"),
                "gateway",
                "--supergraph",
                str(supergraph),
                "--port",
                str(GATEWAY_PORT),
                "--no-graphiql",
            ],
        ),
        env={"SUBGRAPH_URL_PRODUCTS": f"http://127.0.0.1:{SUBGRAPH_PORT}/graphql"},
    )
    try:
        direct_body = orjson.dumps({"query": SUBGRAPH_QUERY})
        gateway_body = orjson.dumps({"query": CLIENT_QUERY})
        wait_ready(SUBGRAPH_PORT, direct_body, sub)
        wait_ready(GATEWAY_PORT, gateway_body, gw)
        # alternate blocks so that drift affects both sides alike
        direct: list[float] = []
        through: list[float] = []
        block = max(iterations // 4, 1)
        cpu = 0.0
        for _ in range(4):
            direct += timed_requests(SUBGRAPH_PORT, direct_body, block)
            before = cpu_seconds(gw.pid)
            through += timed_requests(GATEWAY_PORT, gateway_body, block, warmup=0)
            cpu += cpu_seconds(gw.pid) - before
    finally:
        stop(gw)
        stop(sub)
    d50, g50 = statistics.median(direct) * 1e3, statistics.median(through) * 1e3
    d99 = statistics.quantiles(direct, n=100)[98] * 1e3
    g99 = statistics.quantiles(through, n=100)[98] * 1e3
    print(f"one-subgraph query ({len(direct)} sequential requests each, keep-alive):")
    print(f"  subgraph directly:   p50 {d50:.3f} ms   p99 {d99:.3f} ms")
    print(f"  through the gateway: p50 {g50:.3f} ms   p99 {g99:.3f} ms")
    print(f"  added by the gateway: p50 {g50 - d50:.3f} ms")
    print(
        f"  the gateway's CPU time per request: {cpu / len(through) * 1e3:.3f} ms "
        "(its process, whatever else runs on the machine)"
    )
    print("  load average (1, 5, 15 min): " + " ".join(f"{v:.2f}" for v in os.getloadavg()))


def planning_time(repeat: int) -> None:
    from media_gateway.gateway.operation import select_operation
    from media_gateway.gateway.router import Router
    from media_gateway.gateway.supergraph import Supergraph

    supergraph = Supergraph((FED / "supergraph.graphql").read_text())
    query = (FED / "query.graphql").read_text()

    def once(router: Router) -> tuple[float, float]:
        t0 = time.perf_counter()
        doc = router.document(query)
        t1 = time.perf_counter()
        assert doc.document is not None and not doc.errors, doc.errors
        op = select_operation(doc.document, None)
        router.plan(query, doc.document, op, None, {})
        t2 = time.perf_counter()
        return t1 - t0, t2 - t1

    cold = []
    for _ in range(repeat):
        router = Router(supergraph, {})
        cold.append(once(router))
    router = Router(supergraph, {})
    once(router)
    cached = [once(router) for _ in range(repeat * 100)]
    plan = router.plan(
        query,
        router.document(query).document,  # type: ignore[arg-type]
        select_operation(router.document(query).document, None),  # type: ignore[arg-type]
        None,
        {},
    )
    fetches = plan.to_text().count("Fetch #")
    print(f"benchmark query (federation/query.graphql), plan of {fetches} fetches:")
    for label, rows in (("cold  ", cold), ("cached", cached)):
        parse_ms = statistics.median(r[0] for r in rows) * 1e3
        plan_ms = statistics.median(r[1] for r in rows) * 1e3
        print(
            f"  {label}: parse+validate {parse_ms:.3f} ms, plan {plan_ms:.3f} ms "
            f"(median of {len(rows)})"
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--plan-repeat", type=int, default=20)
    args = p.parse_args()
    planning_time(args.plan_repeat)
    added_latency(args.iterations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
