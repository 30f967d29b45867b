"""Fixtures: the five subgraphs on one runtime, over SQLite and (when available) PostgreSQL.

Each test session uses a fresh temporary data folder; the database persists for the session
(so the demo seed runs once) while each test gets its own platform on its own event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime, Subgraph
from media_gateway.auth.tokens import token_service
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD
from media_gateway.platform.settings import Settings

try:  # the test folders are packages; their parent may or may not be one
    from tests.storage.backends import BACKENDS, make_settings, postgres_schema
except ImportError:  # pragma: no cover
    from storage.backends import (  # type: ignore[no-redef,unused-ignore]
        BACKENDS,
        make_settings,
        postgres_schema,
    )


@pytest.fixture(scope="session", params=BACKENDS)
def settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    backend = request.param
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    if backend == "postgres":
        with postgres_schema("mg_subgraphs") as schema:
            yield make_settings(data_dir, backend, schema)
    else:
        yield make_settings(data_dir, backend)


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    platform = Platform.create(Runtime.create(settings))
    await platform.startup()
    try:
        yield platform
    finally:
        await platform.shutdown()


class GraphQLClient:
    """Posts operations to a subgraph's ASGI app (as a gateway or a client would)."""

    def __init__(self, subgraph: Subgraph) -> None:
        self.subgraph = subgraph
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=subgraph.asgi_app()), base_url="http://subgraph"
        )

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
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def clients(platform: Platform) -> AsyncIterator[dict[str, GraphQLClient]]:
    made = {name: GraphQLClient(subgraph) for name, subgraph in platform.subgraphs.items()}
    yield made
    for client in made.values():
        await client.aclose()


LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    accessToken refreshToken tokenType user { id displayName }
  }
}
"""
REGISTER = """
mutation Register($email: String!, $password: String!, $name: String!) {
  register(input: {email: $email, password: $password, displayName: $name}) { id email }
}
"""


async def login(client: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    body = await client(LOGIN, {"email": email, "password": password})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["login"]
    return result


@pytest.fixture
async def demo_token(clients: dict[str, GraphQLClient]) -> str:
    return str((await login(clients["identity"], DEMO_EMAIL, DEMO_PASSWORD))["accessToken"])


@pytest.fixture
async def new_user(clients: dict[str, GraphQLClient]) -> dict[str, Any]:
    """A freshly registered account with no history: (id, email, token)."""
    import uuid

    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    body = await clients["identity"](
        REGISTER, {"email": email, "password": "correct horse battery", "name": "New Viewer"}
    )
    assert "errors" not in body, body
    session = await login(clients["identity"], email, "correct horse battery")
    return {"id": session["user"]["id"], "email": email, "token": session["accessToken"]}


def entity_query(fields: str) -> str:
    return f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ __typename {fields} }} }}"


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


class QueryCounter:
    """Counts SQL statements sent through an engine."""

    def __init__(self, platform: Platform) -> None:
        from sqlalchemy import event

        self.count = 0
        self.statements: list[str] = []
        self._engine = platform.runtime.database.engine.sync_engine

        def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.count += 1
            self.statements.append(statement)

        self._listener = before
        event.listen(self._engine, "before_cursor_execute", before)

    def reset(self) -> None:
        self.count = 0
        self.statements.clear()

    def touching(self, prefix: str) -> int:
        """Statements on the tables of one subgraph (background tasks run on the side)."""
        return sum(1 for statement in self.statements if f" {prefix}" in statement)

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self._engine, "before_cursor_execute", self._listener)


@pytest.fixture
def count_queries(platform: Platform) -> Iterator[QueryCounter]:
    counter = QueryCounter(platform)
    yield counter
    counter.close()


def data_dir_of(settings: Settings) -> Path:
    return settings.data_dir


# -- stand-ins for the other subgraphs when one subgraph is built alone ---------------------


@dataclass(frozen=True)
class Title:
    id: str
    content_rating: str | None


class KnownTitles:
    """The catalog as another subgraph sees it in the embedded mode: ``contents_by_ids``."""

    def __init__(self, titles: dict[str, str | None]) -> None:
        self.titles = titles

    async def contents_by_ids(self, ids: Sequence[str]) -> list[Title]:
        return [Title(i, self.titles[i]) for i in ids if i in self.titles]


def access_token(settings: Settings, user_id: str) -> str:
    """A member's session token (every session scope), as identity signs it."""
    token, _ = token_service(settings).issue_access_token(user_id)
    return token
