"""A subgraph run on its own checks titles against the catalog service over HTTP: the titles
of writes in flight together go in one request, answers are remembered briefly, and an
unreachable catalog is a clear error, never a write of an unchecked id."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from media_gateway.app import Platform
from media_gateway.schema.common import ClientError
from media_gateway.schema.references import TitleReferences

from .conftest import Client
from .test_references_and_ratings import _rated

try:
    from tests.realtime.helpers import listening_socket
except ImportError:  # pragma: no cover
    from realtime.helpers import listening_socket  # type: ignore[no-redef,unused-ignore]


class NoCatalogHere:
    """A database no catalog service runs on in this process (a subgraph run alone)."""


class Counting:
    """The catalog's ASGI app, counting the GraphQL requests it receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.posts = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            self.posts += 1
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def catalog_service(platform: Platform) -> AsyncIterator[tuple[str, Counting]]:
    app = Counting(platform["catalog"].asgi_app())
    sock = listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/graphql", app
    finally:
        server.should_exit = True
        await task


async def test_titles_are_checked_through_the_catalog_service_in_one_request(
    platform: Platform, gateway: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    g_title = await _rated(gateway, "Toy Story", "G")
    r_title = await _rated(gateway, "Pulp Fiction", "R")
    async with catalog_service(platform) as (url, counting):
        monkeypatch.setenv("SUBGRAPH_URL_CATALOG", url)
        references = TitleReferences(NoCatalogHere())  # no catalog in this process
        found = await asyncio.gather(
            references.ratings([g_title]),
            references.ratings([r_title, "no-such-title"]),
            references.ratings(["no-such-title"]),
        )
        assert found == [{g_title: "G"}, {r_title: "R"}, {}]
        assert counting.posts == 1  # three writes in flight, one request
        assert await references.ratings([g_title, r_title]) == {g_title: "G", r_title: "R"}
        assert counting.posts == 1  # remembered
    monkeypatch.setenv("SUBGRAPH_URL_CATALOG", url)  # the service has stopped
    with pytest.raises(ClientError) as refused:
        await TitleReferences(NoCatalogHere()).ratings([g_title])
    assert refused.value.extensions["code"] == "SERVICE_UNAVAILABLE"
