"""The latency an MCP tool call adds over the same operation sent to the gateway directly.

One process, one run: a gateway (uvicorn, on this event loop) in front of bench/federation's
products subgraph (a child process) serves `/graphql` and `/mcp`; its operation set holds
one tool, `top_products`, the very operation posted to `/graphql`. Sequential requests on
one keep-alive connection each: N posts of the operation to `/graphql`, then N calls of the
tool through the official MCP SDK's client over Streamable HTTP (one session), interleaved
in rounds so that drift on the machine hits both alike. Prints p50 and p99 of each and what
the tool call adds.

Run: ``python bench/mcp_overhead.py [--iterations 1000]`` (port 5331 for the subgraph).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# run as a script, this file's folder comes first on the path, and its name would hide the
# MCP SDK's package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import httpx  # noqa: E402
import httpx2  # noqa: E402
import uvicorn  # noqa: E402
from mcp.client import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from media_gateway.gateway.mcp.config import McpConfig  # noqa: E402
from media_gateway.gateway.server import create_app  # noqa: E402

FED = HERE / "federation"
SUBGRAPH_PORT = 5331
QUERY = "query TopProducts { topProducts { upc name price weight } }"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def wait_for_subgraph(url: str) -> None:
    async with httpx2.AsyncClient(timeout=5) as http:
        for _ in range(300):
            try:
                response = await http.post(url, json={"query": "{ __typename }"})
                if response.status_code == 200:
                    return
            except httpx2.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the subgraph did not start")


async def measure(iterations: int, rounds: int) -> None:
    subgraph_url = f"http://127.0.0.1:{SUBGRAPH_PORT}/graphql"
    os.environ["SUBGRAPH_URL_PRODUCTS"] = subgraph_url
    child = subprocess.Popen(
        [sys.executable, str(FED / "subgraphs.py"), "products", "--port", str(SUBGRAPH_PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        await wait_for_subgraph(subgraph_url)
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "top_products.graphql").write_text(f"# The top products.\n{QUERY}\n")
            app = create_app(
                (FED / "supergraph.graphql").read_text(),
                graphiql=False,
                mcp=McpConfig(operations=Path(folder), dev_tools=False, retries=0),
            )
            await run(app, iterations, rounds)
    finally:
        child.terminate()
        child.wait(10)


async def run(app: object, iterations: int, rounds: int) -> None:
    # uvicorn binds its own socket (one handed to it showed 40 ms stalls per response)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    direct: list[float] = []
    tool: list[float] = []
    try:
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as graphql,
            httpx2.AsyncClient(timeout=30) as http,
            streamable_http_client(f"{base}/mcp", http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as session,
        ):
            await session.initialize()
            body = {"query": QUERY}
            headers = {"accept": "application/json"}
            per_round = max(1, iterations // rounds)
            for _ in range(50):  # warm-up: documents, plans, connections
                await graphql.post("/graphql", json=body, headers=headers)
                await session.call_tool("top_products", {})
            for _ in range(rounds):
                for _ in range(per_round):
                    t0 = time.perf_counter()
                    response = await graphql.post("/graphql", json=body, headers=headers)
                    direct.append(time.perf_counter() - t0)
                    if response.status_code != 200 or "errors" in response.json():
                        raise RuntimeError(response.text[:300])
                for _ in range(per_round):
                    t0 = time.perf_counter()
                    result = await session.call_tool("top_products", {})
                    tool.append(time.perf_counter() - t0)
                    if result.is_error:
                        raise RuntimeError(str(result.content))
    finally:
        server.should_exit = True
        await task
    report(direct, tool)


def report(direct: list[float], tool: list[float]) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"requests: {len(direct)} each; load average {load}")
    print(f"{'':28}{'p50':>12}{'p99':>12}{'mean':>12}")
    for name, values in (("POST /graphql", direct), ("MCP tools/call", tool)):
        print(
            f"{name:28}{ms(percentile(values, 50)):>12}{ms(percentile(values, 99)):>12}"
            f"{ms(statistics.fmean(values)):>12}"
        )
    print(
        f"{'added by the tool call':28}"
        f"{ms(percentile(tool, 50) - percentile(direct, 50)):>12}"
        f"{ms(percentile(tool, 99) - percentile(direct, 99)):>12}"
        f"{ms(statistics.fmean(tool) - statistics.fmean(direct)):>12}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(measure(args.iterations, args.rounds))


if __name__ == "__main__":
    main()
