"""Fixtures: the sync subgraph alone, over SQLite and (when available) PostgreSQL.

Only sync is built (``media_gateway.assembly.sync.create``). What it asks of the catalog
(whether a title exists, and its rating) is answered by a stand-in registered as the local
catalog; viewers are access tokens signed with the runtime's keys, as identity would issue.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from media_gateway.assembly import sync as sync_assembly
from media_gateway.assembly.base import Runtime, Subgraph
from media_gateway.auth.tokens import token_service
from media_gateway.platform.demo import DEMO_USER_ID, DEMO_WATCHLIST
from media_gateway.platform.settings import Settings
from media_gateway.schema import references

try:  # the test folders are packages; their parent may or may not be one
    from tests.subgraphs.conftest import GraphQLClient, settings
except ImportError:  # pragma: no cover
    from subgraphs.conftest import GraphQLClient, settings  # type: ignore[no-redef,unused-ignore]

__all__ = ["GraphQLClient", "settings"]

# the titles the stand-in catalog knows (id -> content rating)
TITLES: dict[str, str | None] = {
    **dict.fromkeys(DEMO_WATCHLIST, "PG-13"),
    "movie:alien-1979": "R",
    "movie:aliens-1986": "R",
}


@dataclass(frozen=True)
class Title:
    id: str
    content_rating: str | None


class KnownTitles:
    """The catalog as sync sees it in the embedded mode: ``contents_by_ids``."""

    def __init__(self, titles: dict[str, str | None]) -> None:
        self.titles = titles

    async def contents_by_ids(self, ids: Sequence[str]) -> list[Title]:
        return [Title(i, self.titles[i]) for i in ids if i in self.titles]


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


def access_token(settings: Settings, user_id: str) -> str:
    """A member's session token (every session scope), as identity signs it."""
    token, _ = token_service(settings).issue_access_token(user_id)
    return token


@pytest.fixture
def demo_token(settings: Settings) -> str:
    return access_token(settings, DEMO_USER_ID)


@pytest.fixture
def new_user(settings: Settings) -> dict[str, Any]:
    """A member with nothing synced yet: (id, token)."""
    user_id = uuid.uuid4().hex
    return {"id": user_id, "token": access_token(settings, user_id)}
