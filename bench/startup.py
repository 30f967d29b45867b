"""Start-up time: cold start (an empty data folder: migrate, seed the demo catalog, embed every
title, train the recommender) versus a warm restart (the same folder again: the stored search
vectors and recommender model are reloaded).

Each command is started as its own process, and its time is measured from launch until it
answers: ``GET /ready`` for a subgraph service, ``GET /health`` for ``serve`` (uvicorn accepts
connections only once the platform's start-up has finished). Every subgraph gets its own data
folder (SQLite and a local Qdrant folder), as it would on its own machine.

Run: ``python bench/startup.py [--runs 5] [--only serve catalog]`` (ports 5401-5406).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUBGRAPHS = ("identity", "catalog", "recommendations", "playback", "sync")
PORTS = {"serve": 5401, **{name: 5402 + i for i, name in enumerate(SUBGRAPHS)}}
TIMEOUT_SECONDS = 120.0


def command(target: str, port: int) -> list[str]:
    cli = [sys.executable, "-c", "import sys; from media_gateway.cli import main; sys.exit(main())"]
    if target == "serve":
        return [*cli, "serve", "--port", str(port)]
    return [*cli, "subgraph", target, "--port", str(port)]


def answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def time_start(target: str, data_dir: Path) -> float:
    """Seconds from launching the command until it answers; the process is then stopped."""
    port = PORTS[target]
    path = "/health" if target == "serve" else "/ready"
    env = {**os.environ, "MEDIA_GATEWAY_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    process = subprocess.Popen(
        command(target, port), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while not answers(port, path):
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited with {process.returncode} before answering")
            if time.perf_counter() - started > TIMEOUT_SECONDS:
                raise RuntimeError(f"{target} did not answer within {TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold and warm starts per command")
    parser.add_argument("--only", nargs="*", choices=("serve", *SUBGRAPHS), default=None)
    args = parser.parse_args()
    targets = args.only or ["serve", *SUBGRAPHS]
    print(f"start-up until ready, median of {args.runs} runs (seconds)")
    print(f"{'command':<40}{'cold':>8}{'warm':>8}   warm runs")
    for target in targets:
        cold: list[float] = []
        warm: list[float] = []
        for _ in range(args.runs):
            data_dir = Path(tempfile.mkdtemp(prefix="mg-startup-"))
            try:
                cold.append(time_start(target, data_dir))
                warm.append(time_start(target, data_dir))
            finally:
                shutil.rmtree(data_dir, ignore_errors=True)
        label = "media-gateway serve" if target == "serve" else f"media-gateway subgraph {target}"
        runs = " ".join(f"{w:.2f}" for w in warm)
        print(
            f"{label:<40}{statistics.median(cold):>8.2f}{statistics.median(warm):>8.2f}   {runs}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
