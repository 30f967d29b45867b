"""Recommendations fixtures: the recommendations subgraph alone on the session's database (its
own runtime per test) and a client of its GraphQL app. Recommendations through the federated
graph are tested in tests/subgraphs/test_recommendations_federated.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from media_gateway.assembly import recommendations
from media_gateway.assembly.base import Runtime, Subgraph
from media_gateway.platform.settings import Settings

try:  # the test folders are packages; their parent may or may not be one
    from tests.subgraphs.conftest import GraphQLClient, settings
except ImportError:  # pragma: no cover
    from subgraphs.conftest import (  # type: ignore[no-redef,unused-ignore]
        GraphQLClient,
        settings,
    )

__all__ = ["GraphQLClient", "settings"]


@pytest.fixture
async def subgraph(settings: Settings) -> AsyncIterator[Subgraph]:
    """The recommendations subgraph, and no other, started on the session's database."""
    runtime = Runtime.create(settings)
    made = recommendations.create(runtime)
    await runtime.database.migrate()
    await made.startup()
    try:
        yield made
    finally:
        await made.shutdown()
        await runtime.close()


@pytest.fixture
async def client(subgraph: Subgraph) -> AsyncIterator[GraphQLClient]:
    made = GraphQLClient(subgraph)
    yield made
    await made.aclose()
