"""A restart reloads the stored search vectors and recommender model instead of rebuilding them.

The platform is started on a data folder, stopped and started again on the same folder: the
second start embeds no title and trains no model, and search answers as before. A title added
while the platform runs is kept current in storage; one added while it is stopped is the only
title the next start embeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings
from media_gateway.subgraphs.catalog.models import ContentRecord
from media_gateway.subgraphs.catalog.text import fold
from media_gateway.subgraphs.catalog.titles import TitleService

from .conftest import GraphQLClient

try:  # the test folders are packages; their parent may or may not be one
    from tests.storage.backends import BACKENDS, make_settings, postgres_schema
except ImportError:  # pragma: no cover
    from storage.backends import (  # type: ignore[no-redef,unused-ignore]
        BACKENDS,
        make_settings,
        postgres_schema,
    )

SEARCH = """
query ($q: String!) {
  search(query: $q, first: 5) { totalCount nodes { id title } }
}
"""
QUERIES = ("the matrix", "space adventure", "christopher nolan", "romantic comedy in paris")


@pytest.fixture(params=BACKENDS)
def restart_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "postgres":
        with postgres_schema("mg_restart") as schema:
            yield make_settings(tmp_path, "postgres", schema)
    else:
        yield make_settings(tmp_path, "sqlite")


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.create(Runtime.create(settings))
    await platform.startup()
    try:
        yield platform
    finally:
        await platform.shutdown()


async def answers(platform: Platform, *queries: str) -> dict[str, Any]:
    client = GraphQLClient(platform["catalog"])
    try:
        result = {}
        for q in queries:
            body = await client(SEARCH, {"q": q})
            assert "errors" not in body, body
            result[q] = body["data"]["search"]
        return result
    finally:
        await client.aclose()


def title(content_id: str, name: str) -> tuple[ContentRecord, list[str]]:
    record = ContentRecord(
        id=content_id, kind="movie", title=name, title_search=fold(name), year=2031
    )
    return record, ["Science Fiction"]


async def test_a_restart_reuses_the_index_and_model_until_the_catalog_changes(
    restart_settings: Settings,
) -> None:
    async with running(restart_settings) as first:
        cold = first["catalog"].service.search.index_build
        assert cold is not None and cold.titles > 0 and cold.embedded == cold.titles
        version = first["recommendations"].service.training.version
        assert version is not None
        assert first["recommendations"].service.training.trainings == 1
        before = await answers(first, *QUERIES)
    assert before["the matrix"]["nodes"][0]["title"] == "The Matrix"

    async with running(restart_settings) as second:
        warm = second["catalog"].service.search.index_build
        assert warm is not None
        assert (warm.titles, warm.embedded, warm.reused) == (cold.titles, 0, cold.titles)
        assert second["recommendations"].service.training.trainings == 0
        assert second["recommendations"].service.training.version == version
        assert await answers(second, *QUERIES) == before
        # a title added while the platform runs reaches the index and its stored vectors
        added = await second["catalog"].service.titles.upsert_titles(
            [title("movie:orbital-lanterns-2031", "Orbital Lanterns")]
        )
        assert added == 1
        found = await answers(second, "orbital lanterns")
        assert found["orbital lanterns"]["nodes"][0]["id"] == "movie:orbital-lanterns-2031"

    async with running(restart_settings) as third:
        build = third["catalog"].service.search.index_build
        assert build is not None
        assert (build.titles, build.embedded) == (cold.titles + 1, 0)
        found = await answers(third, "orbital lanterns", "the matrix")
        assert found["orbital lanterns"]["nodes"][0]["id"] == "movie:orbital-lanterns-2031"
        assert found["the matrix"] == before["the matrix"]

    # the catalog changes while nothing serves it: the next start embeds that title alone
    runtime = Runtime.create(restart_settings)
    try:
        offline = TitleService(runtime.database)
        assert await offline.upsert_titles([title("movie:quiet-harbour-2031", "Quiet Harbour")])
    finally:
        await runtime.close()

    async with running(restart_settings) as fourth:
        build = fourth["catalog"].service.search.index_build
        assert build is not None
        assert (build.titles, build.embedded, build.reused) == (
            cold.titles + 2,
            1,
            cold.titles + 1,
        )
        assert fourth["recommendations"].service.training.trainings == 0
        found = await answers(fourth, "quiet harbour", "orbital lanterns")
        assert found["quiet harbour"]["nodes"][0]["id"] == "movie:quiet-harbour-2031"
        assert found["orbital lanterns"]["nodes"][0]["id"] == "movie:orbital-lanterns-2031"
