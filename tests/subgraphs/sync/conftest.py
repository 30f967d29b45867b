"""Fixtures: the sync subgraph alone, over SQLite and (when available) PostgreSQL.

Only sync is built (``media_gateway.assembly.sync.create``). What it asks of the catalog
(whether a title exists, and its rating) is answered by a stand-in registered as the local
catalog; viewers are access tokens signed with the runtime's keys, as identity would issue.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from media_gateway.assembly import sync as sync_assembly
from media_gateway.assembly.base import Runtime, Subgraph
from media_gateway.platform.demo import DEMO_USER_ID, DEMO_WATCHLIST
from media_gateway.platform.settings import Settings
from media_gateway.schema import references

try:  # the test folders are packages; their parent may or may not be one
    from tests.subgraphs.conftest import GraphQLClient, KnownTitles, access_token, settings
except ImportError:  # pragma: no cover
    from subgraphs.conftest import (  # type: ignore[no-redef,unused-ignore]
        GraphQLClient,
        KnownTitles,
        access_token,
        settings,
    )

__all__ = ["GraphQLClient", "settings"]

# the titles the stand-in catalog knows (id -> content rating)
TITLES: dict[str, str | None] = {
    **dict.fromkeys(DEMO_WATCHLIST, "PG-13"),
    "movie:alien-1979": "R",
    "movie:aliens-1986": "R",
}


@pytest.fixture
async def sync_subgraph(settings: Settings) -> AsyncIterator[Subgraph]:
    runtime = Runtime.create(settings)
    subgraph = sync_assembly.create(runtime)
    references.register_local(runtime.database, "catalog", KnownTitles(dict(TITLES)))
    await runtime.database.migrate()
    await subgraph.startup()
    try:
        yield subgraph
    finally:
        await subgraph.shutdown()
        await runtime.close()


@pytest.fixture
async def clients(sync_subgraph: Subgraph) -> AsyncIterator[dict[str, GraphQLClient]]:
    client = GraphQLClient(sync_subgraph)
    yield {"sync": client}
    await client.aclose()


@pytest.fixture
def demo_token(settings: Settings) -> str:
    return access_token(settings, DEMO_USER_ID)


@pytest.fixture
def new_user(settings: Settings) -> dict[str, Any]:
    """A member with nothing synced yet: (id, token)."""
    user_id = uuid.uuid4().hex
    return {"id": user_id, "token": access_token(settings, user_id)}
