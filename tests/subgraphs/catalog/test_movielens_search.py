"""Search, facets, spelling and autocomplete over MovieLens-100K titles imported through the
``import movielens`` code path into a fresh catalog (no demo data), on each SQL backend."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from media_gateway.app.movielens import import_movielens
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings

from .conftest import CatalogClient, catalog_alone
from .test_autocomplete_and_model import complete
from .test_search import facet, search, titles

try:
    from tests.storage.backends import BACKENDS, POSTGRES_URL, postgres_schema
except ImportError:  # pragma: no cover
    from storage.backends import (  # type: ignore[no-redef,unused-ignore]
        BACKENDS,
        POSTGRES_URL,
        postgres_schema,
    )

REPO = Path(__file__).resolve().parents[3]
MOVIELENS = Path(os.environ.get("MOVIELENS_PATH", REPO / "../shared/data/movielens-100k"))

pytestmark = pytest.mark.skipif(
    not (MOVIELENS / "ml-100k.item").is_file(), reason="MovieLens-100K not found (MOVIELENS_PATH)"
)


@pytest.fixture(params=BACKENDS)
def movielens_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    env = {
        "MEDIA_GATEWAY_DATA_DIR": str(tmp_path),
        "MEDIA_GATEWAY_SEED_DEMO": "false",
        "LOG_LEVEL": "WARNING",
    }
    if request.param == "postgres":
        assert POSTGRES_URL
        with postgres_schema("mg_catalog_ml") as schema:
            env.update(DATABASE_URL=POSTGRES_URL, DATABASE_SCHEMA=schema)
            yield Settings.from_env(env)
    else:
        yield Settings.from_env(env)


@pytest.fixture
async def movielens_client(movielens_settings: Settings) -> AsyncIterator[CatalogClient]:
    async for client in _serve(movielens_settings):
        yield client


async def _serve(settings: Settings) -> AsyncIterator[CatalogClient]:
    platform = catalog_alone(Runtime.create(settings))
    await platform.startup()
    try:
        # imported while the catalog runs: the index applies the import's outbox events
        await import_movielens(
            platform.runtime.database, MOVIELENS, progress=False, report=lambda _: None
        )
        await platform["catalog"].service.search.sync_index()
        client = CatalogClient(platform)
        yield client
        await client.aclose()
    finally:
        await platform.shutdown()


async def test_movielens_search_facets_spelling_and_autocomplete(
    movielens_client: CatalogClient,
) -> None:
    client = movielens_client
    everything = await search(client, "", first=1)
    assert everything["totalCount"] > 1600
    assert titles(await search(client, "toy story", first=3))[0] == "Toy Story"
    corrected = await search(client, "shawshenk redemption", first=3)
    assert corrected["correctedQuery"] == "shawshank redemption"
    assert titles(corrected)[0] == "The Shawshank Redemption"
    nineties = await search(
        client, "", filters={"genres": ["Comedy"], "yearFrom": 1990, "yearTo": 1999}, first=100
    )
    assert nineties["totalCount"] > 100
    assert all(1990 <= e["node"]["year"] <= 1999 for e in nineties["edges"])
    assert facet(nineties, "genres")["Comedy"] == nineties["totalCount"]
    assert facet(nineties, "releaseYears")["1990s"] == nineties["totalCount"]
    assert sum(facet(nineties, "releaseYears").values()) > nineties["totalCount"]
    request = await search(client, "scary movies from the 80s", first=50)
    assert request["interpretation"]["genres"] == ["Horror"]
    assert request["totalCount"] > 0
    assert all(1980 <= e["node"]["year"] <= 1989 for e in request["edges"])
    assert all("Horror" in e["node"]["genres"] for e in request["edges"])
    star = await complete(client, "star w")
    assert star[0]["text"].startswith("Star Wars")
    typo = await complete(client, "godfathr")
    assert typo and typo[0]["text"].startswith("The Godfather")
    sci_fi = await search(client, "sci-fi", first=10)
    assert sci_fi["totalCount"] > 50
