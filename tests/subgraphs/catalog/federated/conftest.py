"""Fixtures: the whole platform behind the gateway (in-process), and access tokens for the
operator roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.auth.scopes import role_scopes
from media_gateway.auth.tokens import token_service
from media_gateway.platform.settings import Settings

try:  # the test folders are packages; their parent may or may not be one
    from tests.subgraphs.catalog.conftest import settings, supergraph
except ImportError:  # pragma: no cover
    from subgraphs.catalog.conftest import (  # type: ignore[no-redef,unused-ignore]
        settings,
        supergraph,
    )

__all__ = ["Gateway", "gateway", "platform", "settings", "token_for"]


@pytest.fixture
async def platform(settings: Settings) -> AsyncIterator[Platform]:
    """Every subgraph, started on the session's database."""
    platform = Platform.create(Runtime.create(settings))
    await platform.startup()
    try:
        yield platform
    finally:
        await platform.shutdown()


class Gateway:
    """Operations posted to the gateway's app, as a caller holding ``token``."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(self, query: str, token: str | None = None, **variables: Any) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[Gateway]:
    from media_gateway.app.serve import build_gateway_app

    app = build_gateway_app(platform, supergraph(), graphiql=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://gw",
    ) as http:
        yield Gateway(http)


def token_for(platform: Platform, role: str, user_id: str | None = None) -> str:
    """An access token of a session of an account with ``role`` (member, support,
    catalog_editor, admin)."""
    token, _ = token_service(platform.runtime.settings).issue_access_token(
        user_id or f"{role}-account", scopes=role_scopes(role)
    )
    return token
