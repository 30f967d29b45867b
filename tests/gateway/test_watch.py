"""The supergraph file is watched and swapped without dropping requests."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx

from media_gateway.gateway.clients import InProcessClient
from media_gateway.gateway.server import GatewayConfig, create_gateway_app

from .helpers import supergraph_sdl
from .library import SUBGRAPHS


async def test_changed_supergraph_is_picked_up_without_dropping_requests(tmp_path: Path) -> None:
    path = tmp_path / "supergraph.graphql"
    path.write_text(supergraph_sdl("library-core"))
    app = create_gateway_app(
        GatewayConfig(
            supergraph_path=path,
            clients={n: InProcessClient(s) for n, s in SUBGRAPHS.items()},
            watch_interval=0.05,
        )
    )
    query = {"query": '{ book(id: "b1") { title } latestReviews { id } }'}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client,
    ):
        assert (await client.get("/health")).status_code == 200
        before = (await client.post("/graphql", json=query)).json()
        assert before["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"

        path.write_text(supergraph_sdl("library"))
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

        answers: list[httpx.Response] = []
        for _ in range(200):  # at most ten seconds
            # several requests in flight while the swap may happen
            batch = await asyncio.gather(*(client.post("/graphql", json=query) for _ in range(5)))
            answers.extend(batch)
            if "data" in batch[-1].json() and batch[-1].json()["data"]:
                break
            await asyncio.sleep(0.05)
        assert all(r.status_code == 200 for r in answers)
        assert answers[-1].json() == {
            "data": {
                "book": {"title": "The Quiet Harbor"},
                "latestReviews": [{"id": "r1"}, {"id": "r2"}, {"id": "r3"}, {"id": "r4"}],
            }
        }
        # every answer came from one supergraph or the other
        for r in answers:
            body = r.json()
            assert body.get("data") or body["errors"][0]["extensions"]["code"] == (
                "GRAPHQL_VALIDATION_FAILED"
            )


async def test_broken_supergraph_keeps_the_previous_one(tmp_path: Path) -> None:
    path = tmp_path / "supergraph.graphql"
    path.write_text(supergraph_sdl("library-core"))
    app = create_gateway_app(
        GatewayConfig(
            supergraph_path=path,
            clients={n: InProcessClient(s) for n, s in SUBGRAPHS.items()},
            watch_interval=0.02,
        )
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client,
    ):
        state = app.state.gateway
        first = state.router
        path.write_text("type Query {")
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        for _ in range(100):
            if state._mtime == path.stat().st_mtime:
                break
            await asyncio.sleep(0.02)
        assert state.router is first
        r = await client.post("/graphql", json={"query": '{ book(id: "b2") { title } }'})
        assert r.json() == {"data": {"book": {"title": "Paper Moons"}}}
        assert (await client.get("/health")).status_code == 200
