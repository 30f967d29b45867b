"""One query through the gateway touching all five subgraphs, in-process (embedded mode)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from media_gateway.app import Platform, subgraph_sdls
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_WATCHLIST

ALL_FIVE = """
{ me { displayName
       watchlist { title year }
       continueWatching { content { title } positionSeconds }
       recommendations(first: 5) { content { title genres } reason } } }
"""


def _supergraph() -> str:
    compose = pytest.importorskip("media_gateway.composition.compose")
    result = compose.compose([compose.SubgraphSource(n, u, s) for n, u, s in subgraph_sdls()])
    assert result.supergraph_sdl, result.errors
    return str(result.supergraph_sdl)


async def _post(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_one_query_touching_all_five_subgraphs(platform: Platform) -> None:
    pytest.importorskip("media_gateway.gateway.server")
    from media_gateway.app.serve import build_gateway_app

    app = build_gateway_app(platform, _supergraph())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as http:
        login = await _post(
            http,
            "mutation($e: String!, $p: String!) {"
            " login(input: {email: $e, password: $p}) { accessToken } }",
            {"e": DEMO_EMAIL, "p": DEMO_PASSWORD},
        )
        token = login["data"]["login"]["accessToken"]
        body = await _post(http, ALL_FIVE, token=token)
    assert "errors" not in body, body
    me = body["data"]["me"]
    assert me["displayName"] == "Demo Viewer"
    assert len(me["watchlist"]) == len(DEMO_WATCHLIST)
    assert {"title": "Dune: Part Two", "year": 2024} in me["watchlist"]
    assert {row["content"]["title"] for row in me["continueWatching"]} >= {
        "Blade Runner 2049",
        "Parasite",
    }
    assert len(me["recommendations"]) == 5
    assert all(
        r["content"]["title"] and r["content"]["genres"] and r["reason"]
        for r in me["recommendations"]
    )
