"""Fixtures: the identity subgraph alone, and the platform behind the gateway (in-process) for
tests about federation, over SQLite, PostgreSQL and Redis.

Backends: ``sqlite`` (embedded: short-lived codes and rate limits in SQL / in process),
``postgres`` (``TEST_POSTGRES_URL``) and ``redis`` (``TEST_REDIS_URL``: codes and rate
limits in Redis under a key prefix of the test's own, removed afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform, subgraph_sdls
from media_gateway.assembly.base import Runtime, Subgraph
from media_gateway.assembly.identity import create as create_identity
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD
from media_gateway.platform.ratelimit import SlidingWindowLimiter
from media_gateway.platform.settings import Settings
from media_gateway.subgraphs.identity.codes import CodeStore
from media_gateway.subgraphs.identity.services import IdentityServices

from ..conftest import GraphQLClient, QueryCounter

try:
    from tests.storage.backends import POSTGRES_URL, make_settings, postgres_schema
except ImportError:  # pragma: no cover
    from storage.backends import (  # type: ignore[no-redef,unused-ignore]
        POSTGRES_URL,
        make_settings,
        postgres_schema,
    )

REDIS_URL = os.environ.get("TEST_REDIS_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
        ],
    ),
    pytest.param(
        "redis",
        marks=[
            pytest.mark.redis,
            pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set"),
        ],
    ),
]

LOGIN = """
mutation Login($email: String!, $password: String!, $code: String) {
  login(input: {email: $email, password: $password, totpCode: $code}) {
    accessToken refreshToken tokenType scopes user { id displayName }
  }
}
"""
REGISTER = """
mutation Register($email: String!, $password: String!, $name: String!) {
  register(input: {email: $email, password: $password, displayName: $name}) { id email }
}
"""
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", params=BACKENDS)
def settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"identity-{backend}")
    if backend == "postgres":
        with postgres_schema("mg_identity") as schema:
            yield make_settings(data_dir, backend, schema)
    else:
        yield make_settings(data_dir, "sqlite")


@pytest.fixture(scope="session")
def supergraph_sdl() -> str:
    from media_gateway.composition.compose import SubgraphSource, compose

    result = compose([SubgraphSource(n, u, s) for n, u, s in subgraph_sdls()])
    assert result.supergraph_sdl, result.errors
    return str(result.supergraph_sdl)


def _own_redis_keys(request: pytest.FixtureRequest, subgraph: Subgraph) -> str | None:
    """On the Redis backend: codes and rate limits under a key prefix of this test's own."""
    if request.node.callspec.params.get("settings") != "redis":
        return None
    assert REDIS_URL
    prefix = f"mgtest:identity:{uuid.uuid4().hex[:10]}"
    stores = identity_services(subgraph).stores
    stores.codes = CodeStore(stores.database, REDIS_URL, prefix)
    stores.limiter = SlidingWindowLimiter(REDIS_URL, f"{prefix}:rl")
    return prefix


def identity_services(subgraph: Subgraph) -> IdentityServices:
    services = subgraph.service
    assert isinstance(services, IdentityServices)
    return services


@pytest.fixture
async def identity(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Subgraph]:
    """The identity subgraph alone, started (what a test not about federation talks to)."""
    runtime = Runtime.create(settings)
    subgraph = create_identity(runtime)
    prefix = _own_redis_keys(request, subgraph)
    await runtime.database.migrate()
    await subgraph.startup()
    try:
        yield subgraph
    finally:
        await subgraph.shutdown()
        await runtime.close()
        if prefix:
            await _drop_redis_keys(prefix)


@pytest.fixture
async def clients(identity: Subgraph) -> AsyncIterator[dict[str, GraphQLClient]]:
    """The identity subgraph's GraphQL client only (the parent folder's builds all five)."""
    client = GraphQLClient(identity)
    yield {"identity": client}
    await client.aclose()


@pytest.fixture
def count_queries(identity: Subgraph) -> Iterator[QueryCounter]:
    counter = QueryCounter(identity)  # a subgraph has the runtime it reads
    yield counter
    counter.close()


@pytest.fixture
async def platform(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Platform]:
    """Every subgraph behind one runtime, for tests about federation and the gateway."""
    platform = Platform.create(Runtime.create(settings))
    prefix = _own_redis_keys(request, platform["identity"])
    await platform.startup()
    try:
        yield platform
    finally:
        await platform.shutdown()
        if prefix:
            await _drop_redis_keys(prefix)


async def _drop_redis_keys(prefix: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL or "")
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


class Client:
    """Posts GraphQL operations to an ASGI app (the gateway, or one subgraph)."""

    def __init__(self, app: Any, base_url: str) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        all_headers = dict(headers or {})
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"accept": "application/json", **all_headers},
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def gateway(platform: Platform, supergraph_sdl: str) -> AsyncIterator[Client]:
    from media_gateway.app.serve import build_gateway_app

    client = Client(build_gateway_app(platform, supergraph_sdl), "http://gateway")
    yield client
    await client.aclose()


@pytest.fixture
async def graph(identity: Subgraph) -> AsyncIterator[Client]:
    """The identity subgraph's own HTTP app: GraphQL at /graphql, the OAuth endpoints, the
    JWKS."""
    client = Client(identity.asgi_app(), "http://identity")
    yield client
    await client.aclose()


@pytest.fixture
async def identity_app(platform: Platform) -> AsyncIterator[Client]:
    """The identity service's own HTTP app (OAuth endpoints, JWKS, client addresses)."""
    client = Client(platform["identity"].asgi_app(), "http://identity")
    yield client
    await client.aclose()


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def login(
    client: Client, email: str = DEMO_EMAIL, password: str = DEMO_PASSWORD, code: str | None = None
) -> dict[str, Any]:
    body = await client(LOGIN, {"email": email, "password": password, "code": code})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["login"]
    return result


async def _register(client: Client) -> dict[str, Any]:
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    body = await client(REGISTER, {"email": email, "password": PASSWORD, "name": "New Viewer"})
    assert "errors" not in body, body
    session = await login(client, email, PASSWORD)
    return {
        "id": session["user"]["id"],
        "email": email,
        "token": session["accessToken"],
        "refresh": session["refreshToken"],
    }


@pytest.fixture
async def member(gateway: Client) -> dict[str, Any]:
    """A freshly registered account, signed in through the gateway: id, email, token,
    refresh."""
    return await _register(gateway)


@pytest.fixture
async def account(graph: Client) -> dict[str, Any]:
    """A freshly registered account, signed in at the identity subgraph: id, email, token,
    refresh."""
    return await _register(graph)
