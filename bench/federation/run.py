"""Federation gateway benchmark: our gateway beside Apollo Gateway, Hive Gateway (with its
JavaScript and with its Rust query planner) and Grafbase, side by side.

One run on a 2-core machine: each gateway alone, pinned to core 0, the four subgraphs and
the load generator (wrk) on core 1, gateways taking turns round after round. Every gateway
must first return the complete, expected response to the benchmark query; then it gets the
same constant load (N connections, a unique ``x-request-id`` header on every request, which
each gateway forwards to its subgraph fetches). Each gateway that can share one in-flight
subgraph fetch between clients runs twice: with that de-duplication on and off. See
README.md beside this file for the command and what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
SUBGRAPH_NAMES = ("accounts", "inventory", "products", "reviews")
GATEWAY_CORE = "0"
LOAD_CORE = "1"

sys.path.insert(0, str(HERE))
import subgraphs as sg  # noqa: E402

# ------------------------------------------------------------------------------ processes


class Proc:
    """A process this harness started (in its own session), stopped by its id."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.name = name
        self.log = log or Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
        self._log_file = self.log.open("wb")
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            # the process leads its own session: signal that group (its own workers)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log_file.close()

    def tail(self, n: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


def pinned(core: str | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", core, *argv] if core is not None else argv


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until(check: Any, timeout: float, proc: Proc | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            return False
        try:
            if check():
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


# ------------------------------------------------------------------------------ /proc sampling


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler:
    """Peak resident memory of a process tree, sampled from /proc."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        pids = process_tree(self.pid)
        last_tree = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - last_tree > 0.5:
                pids = process_tree(self.pid)
                last_tree = time.monotonic()
            self.peak_kib = max(self.peak_kib, sum(rss_kib(p) for p in pids))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def cpu_ticks() -> dict[str, tuple[int, int]]:
    """Busy and total ticks per core from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                name, *values = line.split()
                nums = [int(v) for v in values]
                idle = nums[3] + nums[4]
                out[name[3:]] = (sum(nums) - idle, sum(nums))
    return out


def busy_percent(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], core: str
) -> float:
    b0, t0 = before[core]
    b1, t1 = after[core]
    return 100.0 * (b1 - b0) / max(t1 - t0, 1)


# ------------------------------------------------------------------------------ the workload


def product_fields(upc: str) -> dict[str, Any]:
    p = sg.PRODUCTS_BY_UPC[upc]
    price, weight = p["price"], p["weight"]
    return {
        "inStock": sg.IN_STOCK[upc],
        "name": p["name"],
        "price": price,
        "shippingEstimate": 0 if price > 1000 else weight // 2,
        "upc": upc,
        "weight": weight,
    }


def user_fields(uid: str) -> dict[str, Any]:
    u = sg.USERS_BY_ID[uid]
    return {"id": uid, "username": u["username"], "name": u["name"]}


def expected_response() -> dict[str, Any]:
    """The complete answer to query.graphql, computed from the subgraphs' data."""

    def review(r: dict[str, Any]) -> dict[str, Any]:
        return {"id": r["id"], "body": r["body"]}

    def author_with_reviews() -> dict[str, Any]:
        return {
            **user_fields(sg.AUTHOR_ID),
            "reviews": [
                {**review(r), "product": product_fields(r["upc"])} for r in sg.USER_REVIEWS
            ],
        }

    def product_reviews(upc: str) -> list[dict[str, Any]]:
        return [
            {**review(r), "author": author_with_reviews()} for r in sg.REVIEWS_BY_UPC.get(upc, [])
        ]

    users = [
        {
            **user_fields(u["id"]),
            "reviews": [
                {
                    **review(r),
                    "product": {**product_fields(r["upc"]), "reviews": product_reviews(r["upc"])},
                }
                for r in sg.USER_REVIEWS
            ],
        }
        for u in sg.USERS
    ]
    top = [
        {**product_fields(p["upc"]), "reviews": product_reviews(p["upc"])} for p in sg.PRODUCTS[:5]
    ]
    return {"data": {"users": users, "topProducts": top}}


# ------------------------------------------------------------------------------ wrk

WRK_SCRIPT = """
-- POST the benchmark query with a unique x-request-id on every request, and count answers
-- that are not the complete expected response (wrong status, length or a GraphQL error).
wrk.method = "POST"
wrk.body = io.open(os.getenv("BENCH_BODY_FILE"), "rb"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local expected_len = tonumber(os.getenv("BENCH_EXPECTED_LEN") or "0")
local run_id = os.getenv("BENCH_RUN_ID") or "run"
local threads = {}
local n_threads = 0

function setup(thread)
  n_threads = n_threads + 1
  thread:set("tid", n_threads)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  bad = 0
  prefix = run_id .. "-" .. tostring(tid) .. "-"
end

function request()
  counter = counter + 1
  wrk.headers["x-request-id"] = prefix .. counter
  return wrk.format()
end

function response(status, headers, body)
  if status ~= 200 or (expected_len > 0 and #body ~= expected_len)
     or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local b = 0
  local sent = 0
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    sent = sent + t:get("counter")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"bad":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"sent":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, b,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, sent))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    # requests sent, those still in flight when the load stopped included
    sent: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    url: str,
    body_file: Path,
    expected_len: int,
    connections: int,
    seconds: float,
    run_id: str,
    script: Path,
) -> LoadResult:
    env = {
        **os.environ,
        "BENCH_BODY_FILE": str(body_file),
        "BENCH_EXPECTED_LEN": str(expected_len),
        "BENCH_RUN_ID": run_id,
    }
    argv = pinned(
        LOAD_CORE,
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ],
    )
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-1000:]} {out.stderr[-1000:]}")
    r = json.loads(line[len("WRK_RESULT ") :])
    # wrk counts non-2xx in "status" and the script counts them again in "bad": keep the larger
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"] + max(r["status"], r["bad"])
    return LoadResult(
        r["requests"],
        r["duration_us"] / 1e6,
        errors,
        r["p50_us"] / 1000,
        r["p95_us"] / 1000,
        r["p99_us"] / 1000,
        r.get("sent", r["requests"]),
    )


# ------------------------------------------------------------------------------ gateways


@dataclass
class GatewaySpec:
    key: str
    label: str
    argv: list[str]
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    core: str | None = GATEWAY_CORE
    # cross-client de-duplication of in-flight subgraph fetches: on, off, or None when the
    # gateway has no such feature
    dedup: bool | None = None
    # how the gateway is told to forward the client's x-request-id to its subgraphs
    forwards: str = ""


GATEWAYS = ("ours", "apollo", "hive", "hive-rust", "grafbase")


def grafbase_binary() -> Path:
    return NODE_DIR / "node_modules" / "@grafbase" / "cli-x86_64-unknown-linux-musl" / "grafbase"


def grafbase_config(tmp: Path, sub_ports: dict[str, int], dedup: bool) -> Path:
    """grafbase.toml: the four subgraphs (their SDL from files: no introspection at start),
    x-request-id forwarded to every subgraph, in-flight de-duplication on or off."""
    lines = []
    for name, port in sub_ports.items():
        sdl = tmp / f"grafbase-{name}.graphql"
        sdl.write_text(sg.SDL[name])
        lines.append(
            f'[subgraphs.{name}]\nurl = "http://127.0.0.1:{port}/graphql"\nschema_path = "{sdl}"\n'
        )
    lines.append('[[headers]]\nrule = "forward"\nname = "x-request-id"\n')
    lines.append(f"[traffic_shaping]\ninflight_deduplication = {str(dedup).lower()}\n")
    out = tmp / f"grafbase-{'dedup' if dedup else 'nodedup'}.toml"
    out.write_text("\n".join(lines))
    return out


def gateway_specs(
    args: argparse.Namespace, supergraph: Path, port: int, sub_ports: dict[str, int], tmp: Path
) -> list[GatewaySpec]:
    specs: list[GatewaySpec] = []
    media_gateway = str(Path(sys.executable).parent / "media-gateway")
    node = shutil.which("node") or "node"
    hive_argv = [
        node,
        str(NODE_DIR / "node_modules" / ".bin" / "hive-gateway"),
        "supergraph",
        str(supergraph),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--fork",
        "1",
        "-c",
        str(NODE_DIR / "hive-gateway.config.mjs"),
    ]
    hive_forwards = "propagateHeaders in node/hive-gateway.config.mjs"
    for dedup in args.dedup:
        mode = "dedup on" if dedup else "dedup off"
        tag = "dedup" if dedup else "nodedup"
        if "ours" in args.gateways:
            for workers in args.workers:
                argv = [
                    media_gateway,
                    "gateway",
                    "--supergraph",
                    str(supergraph),
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    "--no-graphiql",
                ]
                unpinned = workers != 1
                label = "Media Gateway" + (f" ({workers} workers, UNPINNED)" if unpinned else "")
                specs.append(
                    GatewaySpec(
                        f"ours-{workers}-{tag}",
                        f"{label}, {mode}",
                        argv,
                        # telemetry on, as deployed: metrics, and traces sampled (1%); no
                        # MCP endpoint (no peer serves one, and its SDK is a third of the RSS)
                        env={"GATEWAY_DEDUP": "true" if dedup else "false", "GATEWAY_MCP": "false"},
                        core=None if unpinned else GATEWAY_CORE,
                        dedup=dedup,
                        forwards="by default (every client header but hop-by-hop ones)",
                    )
                )
        if "hive" in args.gateways:
            specs.append(
                GatewaySpec(
                    f"hive-{tag}",
                    f"Hive Gateway, {mode}",
                    hive_argv,
                    cwd=NODE_DIR,
                    env={"NODE_ENV": "production", "BENCH_DEDUP": "on" if dedup else "off"},
                    dedup=dedup,
                    forwards=hive_forwards,
                )
            )
        if "hive-rust" in args.gateways:
            specs.append(
                GatewaySpec(
                    f"hive-rust-{tag}",
                    f"Hive Gateway (Rust planner), {mode}",
                    [*hive_argv, "--hive-router-runtime"],
                    cwd=NODE_DIR,
                    env={"NODE_ENV": "production", "BENCH_DEDUP": "on" if dedup else "off"},
                    dedup=dedup,
                    forwards=hive_forwards,
                )
            )
        if "grafbase" in args.gateways:
            specs.append(
                GatewaySpec(
                    f"grafbase-{tag}",
                    f"Grafbase, {mode}",
                    [
                        str(grafbase_binary()),
                        "dev",
                        "-c",
                        str(grafbase_config(tmp, sub_ports, dedup)),
                        "--listen-address",
                        f"127.0.0.1:{port}",
                    ],
                    cwd=tmp,
                    env={"NO_COLOR": "1", "GRAFBASE_DISABLE_TELEMETRY": "1"},
                    dedup=dedup,
                    forwards="a [[headers]] forward rule in grafbase.toml",
                )
            )
    if "apollo" in args.gateways:
        # Apollo Gateway cannot share a subgraph fetch between clients: one configuration
        specs.append(
            GatewaySpec(
                "apollo",
                "Apollo Gateway, no dedup feature",
                [node, str(NODE_DIR / "apollo-gateway.mjs"), str(supergraph), str(port)],
                cwd=NODE_DIR,
                env={"NODE_ENV": "production"},
                forwards="a RemoteGraphQLDataSource in node/apollo-gateway.mjs",
            )
        )
    return specs


@dataclass
class Measurement:
    key: str
    label: str
    load: LoadResult
    peak_rss_mib: float
    fetches_per_request: float
    reps_per_request: float
    load_fetches_per_request: float
    load_reps_per_request: float
    # share of subgraph requests (one request at a time) that carried the client's
    # x-request-id, and the header names the subgraphs received
    request_id_forwarded: float
    headers_seen: list[str]
    core0_busy: float
    core1_busy: float
    dedup: bool | None = None


def subgraph_stats(ports: dict[str, int], reset: bool = False) -> dict[str, dict[str, Any]]:
    out = {}
    for name, port in ports.items():
        _, body = http("POST" if reset else "GET", f"http://127.0.0.1:{port}/stats")
        out[name] = orjson.loads(body)
    return out


def totals(stats: dict[str, dict[str, Any]]) -> tuple[int, int]:
    return (
        sum(s["requests"] for s in stats.values()),
        sum(s["representations"] for s in stats.values()),
    )


def post_query(url: str, body: bytes, request_id: str, timeout: float = 30.0) -> tuple[int, bytes]:
    return http(
        "POST",
        url,
        body,
        {
            "content-type": "application/json",
            "accept": "application/json",
            "x-request-id": request_id,
        },
        timeout,
    )


def measure_gateway(
    spec: GatewaySpec,
    args: argparse.Namespace,
    url: str,
    body: bytes,
    body_file: Path,
    expected: dict[str, Any],
    sub_ports: dict[str, int],
    script: Path,
    round_no: int,
    reference: dict[str, bytes],
) -> Measurement:
    proc = Proc(spec.key, pinned(spec.core, spec.argv), cwd=spec.cwd, env=spec.env)
    try:

        def ready() -> bool:
            status, _ = post_query(url, body, f"ready-{time.monotonic()}", timeout=5)
            return status == 200

        if not wait_until(ready, 90, proc):
            raise RuntimeError(f"{spec.label} did not start:\n{proc.tail()}")
        status, raw = post_query(url, body, f"check-{spec.key}-{round_no}")
        answer = orjson.loads(raw)
        if status != 200 or answer != expected:
            raise RuntimeError(
                f"{spec.label} answered HTTP {status} with a response that is not "
                f"the expected one: {raw[:600]!r}"
            )
        reference[spec.key] = raw
        # exact subgraph traffic of one request: sequential requests, counters around them
        probes = 10
        subgraph_stats(sub_ports, reset=True)
        for i in range(probes):
            post_query(url, body, f"probe-{spec.key}-{round_no}-{i}")
        probe_stats = subgraph_stats(sub_ports)
        fetches, reps = totals(probe_stats)
        with_id = sum(s["withRequestId"] for s in probe_stats.values())
        headers_seen = sorted({h for s in probe_stats.values() for h in s["headers"]})
        run_id = f"{spec.key}-r{round_no}"
        if args.warmup > 0:
            run_wrk(url, body_file, len(raw), args.connections, args.warmup, run_id + "w", script)
            time.sleep(2.0)  # the warm-up's requests still in flight finish before counting
        subgraph_stats(sub_ports, reset=True)
        before = cpu_ticks()
        with RssSampler(proc.pid) as sampler:
            load = run_wrk(
                url, body_file, len(raw), args.connections, args.duration, run_id, script
            )
        after = cpu_ticks()
        # the subgraph traffic of every request sent, those in flight at the end included
        time.sleep(2.0)
        load_fetches, load_reps = totals(subgraph_stats(sub_ports))
        sent = max(load.sent, load.requests, 1)
        return Measurement(
            spec.key,
            spec.label,
            load,
            sampler.peak_kib / 1024,
            fetches / probes,
            reps / probes,
            load_fetches / sent,
            load_reps / sent,
            with_id / max(fetches, 1),
            headers_seen,
            busy_percent(before, after, "0"),
            busy_percent(before, after, "1"),
            spec.dedup,
        )
    finally:
        proc.stop()


# ------------------------------------------------------------------------------ set-up steps


def npm_install() -> None:
    print("installing the Node gateways (npm) ...", flush=True)
    cmd = [
        "npm",
        "ci" if (NODE_DIR / "package-lock.json").exists() else "install",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]
    subprocess.run(cmd, cwd=NODE_DIR, check=True)
    for pkg in (
        "@apollo/gateway",
        "@apollo/server",
        "@graphql-hive/gateway",
        "@graphql-hive/router-runtime",
        "@grafbase/cli-x86_64-unknown-linux-musl",
        "@apollo/composition",
    ):
        meta = json.loads((NODE_DIR / "node_modules" / pkg / "package.json").read_text())
        print(f"  {pkg} {meta['version']}")


def compose_supergraph(sub_ports: dict[str, int], out: Path) -> None:
    services = [
        {"name": n, "url": f"http://127.0.0.1:{p}/graphql", "sdl": sg.SDL[n]}
        for n, p in sub_ports.items()
    ]
    done = subprocess.run(
        ["node", str(NODE_DIR / "compose.mjs")],
        input=json.dumps(services),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"composition failed: {done.stderr}")
    out.write_text(done.stdout)
    print(f"supergraph composed with @apollo/composition -> {out.name}")
    try:
        from graphql import print_schema

        from media_gateway.composition import SubgraphSource, compose
        from media_gateway.gateway.supergraph import Supergraph

        ours = compose([SubgraphSource(s["name"], s["url"], s["sdl"]) for s in services])
        if not ours.ok or ours.supergraph_sdl is None:
            print(f"  our composer: failed ({'; '.join(e.message for e in ours.errors)})")
        else:
            same = print_schema(Supergraph(ours.supergraph_sdl).api_schema) == print_schema(
                Supergraph(done.stdout).api_schema
            )
            print(f"  our composer: composes it; API schema {'identical' if same else 'DIFFERS'}")
    except Exception as exc:  # the comparison is informative only
        print(f"  our composer: not compared ({exc.__class__.__name__}: {exc})")


def start_subgraphs(ports: dict[str, int]) -> list[Proc]:
    procs = []
    for name, port in ports.items():
        procs.append(
            Proc(
                f"subgraph-{name}",
                pinned(
                    LOAD_CORE,
                    [sys.executable, str(HERE / "subgraphs.py"), name, "--port", str(port)],
                ),
            )
        )
    for proc, port in zip(procs, ports.values(), strict=True):
        if not wait_until(
            lambda p=port: http("GET", f"http://127.0.0.1:{p}/health")[0] == 200, 30, proc
        ):
            raise RuntimeError(f"{proc.name} did not start:\n{proc.tail()}")
    return procs


def subgraph_direct(
    sub_ports: dict[str, int], connections: int, seconds: float, script: Path, tmp: Path
) -> tuple[float, int]:
    """Throughput of the reviews subgraph alone on its heaviest fetch of the benchmark plan:
    the users' reviews with products, their reviews, authors and the authors' reviews."""
    query = (
        "query($representations:[_Any!]!){_entities(representations:$representations){"
        "... on User{reviews{id body product{__typename upc reviews{id body author{id username "
        "__typename reviews{id body product{__typename upc}}}}}}}}}"
    )
    reps = [{"__typename": "User", "id": u["id"]} for u in sg.USERS]
    body = orjson.dumps({"query": query, "variables": {"representations": reps}})
    f = tmp / "subgraph-body.json"
    f.write_bytes(body)
    url = f"http://127.0.0.1:{sub_ports['reviews']}/graphql"
    status, raw = http("POST", url, body, {"content-type": "application/json"})
    assert status == 200 and b'"errors"' not in raw, raw[:300]
    res = run_wrk(url, f, len(raw), connections, seconds, "subgraph", script)
    return res.rps, res.errors


def generator_check(
    port: int,
    response_body: bytes,
    connections: int,
    seconds: float,
    body_file: Path,
    script: Path,
    tmp: Path,
) -> float:
    """wrk against a server that answers at once with a body as large as the gateways':
    the ceiling of the load generator on its core."""
    f = tmp / "static-body.json"
    f.write_bytes(response_body)
    proc = Proc(
        "static",
        pinned(
            GATEWAY_CORE,
            [sys.executable, str(HERE / "static_server.py"), "--port", str(port), "--body", str(f)],
        ),
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        if not wait_until(lambda: http("POST", url, b"{}")[0] == 200, 30, proc):
            raise RuntimeError(f"static server did not start:\n{proc.tail()}")
        return run_wrk(
            url, body_file, len(response_body), connections, seconds, "static", script
        ).rps
    finally:
        proc.stop()


# ------------------------------------------------------------------------------ report


def median_measurement(ms: list[Measurement]) -> Measurement:
    def med(f: Any) -> float:
        return float(statistics.median(f(m) for m in ms))

    first = ms[0]
    total_requests = sum(m.load.requests for m in ms)
    load = LoadResult(
        requests=total_requests,
        seconds=sum(m.load.seconds for m in ms),
        errors=sum(m.load.errors for m in ms),
        p50_ms=med(lambda m: m.load.p50_ms),
        p95_ms=med(lambda m: m.load.p95_ms),
        p99_ms=med(lambda m: m.load.p99_ms),
    )
    out = Measurement(
        first.key,
        first.label,
        load,
        med(lambda m: m.peak_rss_mib),
        med(lambda m: m.fetches_per_request),
        med(lambda m: m.reps_per_request),
        med(lambda m: m.load_fetches_per_request),
        med(lambda m: m.load_reps_per_request),
        min(m.request_id_forwarded for m in ms),
        first.headers_seen,
        med(lambda m: m.core0_busy),
        med(lambda m: m.core1_busy),
        first.dedup,
    )
    out.median_rps = med(lambda m: m.load.rps)  # type: ignore[attr-defined]
    return out


def _rps(m: Measurement) -> float:
    return float(getattr(m, "median_rps", m.load.rps))


def print_table(rows: list[Measurement]) -> None:
    header = (
        f"{'gateway':<44} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'MiB':>6} {'fetch/req':>9} {'reps/req':>8} {'alone f/r':>9} {'alone r/r':>9} "
        f"{'x-req-id':>8} {'core0%':>6} {'core1%':>6}"
    )
    print(header)
    print("-" * len(header))
    for m in rows:
        print(
            f"{m.label:<44} {_rps(m):>7.1f} {m.load.p50_ms:>7.1f} {m.load.p99_ms:>7.1f} "
            f"{m.load.errors:>6d} {m.peak_rss_mib:>6.1f} {m.load_fetches_per_request:>9.2f} "
            f"{m.load_reps_per_request:>8.2f} {m.fetches_per_request:>9.1f} "
            f"{m.reps_per_request:>9.1f} {100 * m.request_id_forwarded:>7.0f}% "
            f"{m.core0_busy:>6.0f} {m.core1_busy:>6.0f}"
        )


def print_headers(specs: list[GatewaySpec], rows: list[Measurement]) -> None:
    by_key = {m.key: m for m in rows}
    print(
        "\nheaders: every client request carries a unique x-request-id; what each gateway "
        "was told to forward, and the header names its subgraph requests carried"
    )
    seen: set[str] = set()
    for spec in specs:
        m = by_key.get(spec.key)
        name = spec.label.split(",")[0]
        if m is None or name in seen:
            continue
        seen.add(name)
        print(f"  {name}: x-request-id {spec.forwards}; subgraphs saw: {', '.join(m.headers_seen)}")


def print_ratios(rows: list[Measurement]) -> None:
    ours = [m for m in rows if m.key.startswith("ours-1-")]
    if not ours:
        return
    print(
        "\nratios, ours / peer in the same de-duplication mode (a peer without the feature "
        "against both of ours); throughput: higher is better; latency, memory: lower is better"
    )
    for o in ours:
        for n in rows:
            if n.key.startswith("ours") or (n.dedup is not None and n.dedup != o.dedup):
                continue
            if _rps(n) <= 0 or n.load.p50_ms <= 0:
                print(f"  {o.label} vs {n.label}: no completed request to compare with")
                continue
            print(
                f"  {o.label} vs {n.label}: throughput {_rps(o) / max(_rps(n), 1e-9):.2f}x, "
                f"p50 {o.load.p50_ms / max(n.load.p50_ms, 1e-9):.2f}x, "
                f"p99 {o.load.p99_ms / max(n.load.p99_ms, 1e-9):.2f}x, "
                f"peak memory {o.peak_rss_mib / max(n.peak_rss_mib, 1e-9):.2f}x"
            )


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=20.0, help="seconds of measured load")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    p.add_argument("--connections", type=int, default=50, help="concurrent clients")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds; the gateway order rotates each round; medians are reported",
    )
    p.add_argument(
        "--workers", default="1", help="comma-separated worker counts for our gateway, e.g. 1,2"
    )
    p.add_argument(
        "--gateways",
        default=",".join(GATEWAYS),
        help=f"comma-separated subset of {','.join(GATEWAYS)}",
    )
    p.add_argument(
        "--dedup",
        default="on,off",
        help="cross-client de-duplication modes to run each gateway in: on, off or on,off",
    )
    p.add_argument(
        "--port-base",
        type=int,
        default=5300,
        help="subgraphs on base+1..4, gateway on base+10, yardstick on base+20",
    )
    p.add_argument("--skip-install", action="store_true", help="do not run npm")
    p.add_argument(
        "--check-seconds",
        type=float,
        default=5.0,
        help="seconds of the subgraph and load-generator yardsticks (0 skips them)",
    )
    p.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = p.parse_args(argv)
    args.workers = [int(x) for x in args.workers.split(",") if x]
    args.gateways = [x.strip() for x in args.gateways.split(",") if x.strip()]
    unknown = set(args.gateways) - set(GATEWAYS)
    if unknown:
        p.error(f"unknown gateways: {', '.join(sorted(unknown))}")
    args.dedup = [x.strip() == "on" for x in args.dedup.split(",") if x.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is required: apt-get install wrk", file=sys.stderr)
        return 2
    if os.cpu_count() is None or os.cpu_count() < 2:  # type: ignore[operator]
        print("two cores are required", file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {int(LOAD_CORE)})  # the harness stays off the gateway's core
    if not args.skip_install:
        npm_install()
    base = args.port_base
    sub_ports = {n: base + 1 + i for i, n in enumerate(SUBGRAPH_NAMES)}
    gw_port = base + 10
    url = f"http://127.0.0.1:{gw_port}/graphql"
    query = (HERE / "query.graphql").read_text()
    body = orjson.dumps({"query": query, "operationName": "TestQuery"})
    expected = expected_response()
    procs: list[Proc] = []
    results: dict[str, list[Measurement]] = {}
    with tempfile.TemporaryDirectory(prefix="federation-bench-") as tmpdir:
        tmp = Path(tmpdir)
        script = tmp / "load.lua"
        script.write_text(WRK_SCRIPT)
        body_file = tmp / "body.json"
        body_file.write_bytes(body)
        try:
            procs = start_subgraphs(sub_ports)
            supergraph = HERE / "supergraph.graphql"
            compose_supergraph(sub_ports, supergraph)
            print(
                f"machine: {os.cpu_count()} cores; gateways pinned to core {GATEWAY_CORE}, "
                f"subgraphs and wrk on core {LOAD_CORE}"
            )
            print(
                f"load: {args.connections} connections, {args.warmup:g}s warm-up, "
                f"{args.duration:g}s measured, {args.repeat} round(s), gateways alternating; "
                "unique x-request-id per request"
            )
            print(f"load average at start (1, 5, 15 min): {load_average()}")
            specs = gateway_specs(args, supergraph, gw_port, sub_ports, tmp)
            expected_bytes = len(orjson.dumps(expected))
            print(f"expected response: {expected_bytes} bytes of JSON (compact)")
            if args.check_seconds > 0:
                rps, errors = subgraph_direct(
                    sub_ports, args.connections, args.check_seconds, script, tmp
                )
                print(
                    f"reviews subgraph alone (its heaviest fetch of the plan, 6 users): "
                    f"{rps:.0f} req/s, {errors} errors"
                )
            reference: dict[str, bytes] = {}
            for round_no in range(args.repeat):
                order = specs[round_no % len(specs) :] + specs[: round_no % len(specs)]
                for spec in order:
                    print(f"round {round_no + 1}: {spec.label} ...", flush=True)
                    m = measure_gateway(
                        spec,
                        args,
                        url,
                        body,
                        body_file,
                        expected,
                        sub_ports,
                        script,
                        round_no,
                        reference,
                    )
                    print(
                        f"  {m.load.rps:.1f} req/s, p50 {m.load.p50_ms:.1f} ms, "
                        f"{m.load.errors} errors, peak {m.peak_rss_mib:.0f} MiB, "
                        f"{m.load_fetches_per_request:.2f} fetches/req under load, "
                        f"load average {load_average()}",
                        flush=True,
                    )
                    results.setdefault(spec.key, []).append(m)
            if args.check_seconds > 0 and reference:
                sample = next(iter(reference.values()))
                ceiling = generator_check(
                    base + 20, sample, args.connections, args.check_seconds, body_file, script, tmp
                )
                print(
                    f"load generator ceiling (wrk on core {LOAD_CORE} against a static server "
                    f"on core {GATEWAY_CORE}, same body size): {ceiling:.0f} req/s"
                )
        finally:
            for proc in procs:
                proc.stop()
    print(
        "\nevery gateway returned the complete expected response "
        f"({len(reference)} gateways checked; byte-identical JSON: "
        + (
            "yes)"
            if len(set(reference.values())) == 1
            else "no: same data, other key order or spacing)"
        )
    )
    rows = [median_measurement(results[s.key]) for s in specs if s.key in results]
    print(
        f"\nresults ({f'median of {args.repeat} rounds' if args.repeat > 1 else 'one round'};"
        f" load average at the end {load_average()})\n"
        "  fetch/req, reps/req: subgraph requests and _entities representations per gateway"
        " request under load;\n  alone f/r, alone r/r: the same for one request at a time;"
        " x-req-id: share of subgraph requests\n  that carried the client's x-request-id"
        " (one request at a time); core0/core1: busy % under load\n"
    )
    print_table(rows)
    print_headers(specs, rows)
    print_ratios(rows)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    k: [m.__dict__ | {"load": m.load.__dict__} for m in v]
                    for k, v in results.items()
                },
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
