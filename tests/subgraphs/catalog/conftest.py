"""Catalog fixtures: the catalog subgraph alone on the session's database (its own runtime per
test), a client of its GraphQL app, and access tokens for profiles with a maximum content
rating. The federated graph is tested in tests/subgraphs and tests/e2e."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform, subgraph_sdls
from media_gateway.assembly import catalog
from media_gateway.assembly.base import Runtime
from media_gateway.auth.tokens import token_service
from media_gateway.platform.settings import Settings

try:  # the test folders are packages; their parent may or may not be one
    from tests.subgraphs.conftest import (
        GraphQLClient,
        QueryCounter,
        clients,
        count_queries,
        entity_query,
        error_codes,
        settings,
    )
except ImportError:  # pragma: no cover
    from subgraphs.conftest import (  # type: ignore[no-redef,unused-ignore]
        GraphQLClient,
        QueryCounter,
        clients,
        count_queries,
        entity_query,
        error_codes,
        settings,
    )

__all__ = [
    "GraphQLClient",
    "QueryCounter",
    "clients",
    "count_queries",
    "entity_query",
    "error_codes",
    "platform",
    "settings",
]


def catalog_alone(runtime: Runtime) -> Platform:
    """The catalog subgraph, and no other, on ``runtime``."""
    return Platform(runtime, {catalog.NAME: catalog.create(runtime)})


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    """The catalog alone (``platform["catalog"]``), started on the session's database."""
    platform = catalog_alone(Runtime.create(settings))
    await platform.startup()
    try:
        yield platform
    finally:
        await platform.shutdown()


@lru_cache(maxsize=1)
def supergraph() -> str:
    from media_gateway.composition.compose import SubgraphSource, compose

    result = compose([SubgraphSource(n, u, s) for n, u, s in subgraph_sdls()])
    assert result.supergraph_sdl, result.errors
    return str(result.supergraph_sdl)


class CatalogClient:
    """GraphQL posted to the catalog subgraph's app, with a viewer's token when given."""

    def __init__(self, platform: Platform) -> None:
        app: Any = platform[catalog.NAME].asgi_app()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://catalog"
        )

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[CatalogClient]:
    made = CatalogClient(platform)
    yield made
    await made.aclose()


def profile_token(settings: Settings, max_content_rating: str | None, kids: bool = False) -> str:
    """An access token for a profile limited to ``max_content_rating``."""
    extra: dict[str, Any] = {"profile_id": "profile-test", "kids": kids}
    if max_content_rating is not None:
        extra["max_content_rating"] = max_content_rating
    token, _ = token_service(settings).issue_access_token("catalog-test-viewer", extra=extra)
    return token
