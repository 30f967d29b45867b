"""The GraphiQL page and its asset routes, without a browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from media_gateway.gateway import graphiql


@pytest.fixture
def built_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "graphiql"
    folder.mkdir()
    (folder / "graphiql.js").write_text("console.log('graphiql');\n")
    (folder / "graphiql.css").write_text("body { margin: 0; }\n")
    (folder / ".build-stamp").write_text("0123456789abcdef0123\n")
    monkeypatch.setattr(graphiql, "assets_dir", lambda: folder)
    return folder


@pytest.fixture
def no_assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "not-built"
    monkeypatch.setattr(graphiql, "assets_dir", lambda: folder)
    return folder


def page_config(page: str) -> dict[str, object]:
    match = re.search(
        r'<script id="graphiql-config" type="application/json">(.*?)</script>', page, re.S
    )
    assert match, "the page carries no configuration"
    value = json.loads(match.group(1))
    assert isinstance(value, dict)
    return value


def test_page_loads_local_assets_and_configures_endpoints(built_assets: Path) -> None:
    page = graphiql.graphiql_html("/graphql", "/graphql/ws", title="Media Gateway")

    assert '<script type="module" src="/graphiql/assets/graphiql.js?v=0123456789ab">' in page
    assert 'href="/graphiql/assets/graphiql.css?v=0123456789ab"' in page
    assert "https://" not in page and "http://" not in page  # nothing from a CDN
    config = page_config(page)
    assert config["endpoint"] == "/graphql"
    assert config["subscriptionEndpoint"] == "/graphql/ws"
    assert config["defaultQuery"] == graphiql.DEFAULT_QUERY


def test_page_without_subscriptions(built_assets: Path) -> None:
    config = page_config(graphiql.graphiql_html("/graphql", None))
    assert config["subscriptionEndpoint"] is None


def test_values_cannot_break_out_of_the_page(built_assets: Path) -> None:
    hostile = "</script><script>alert(1)</script>"
    page = graphiql.graphiql_html("/graphql", None, title=hostile, default_query=hostile)

    assert "<script>alert(1)" not in page
    assert page_config(page)["defaultQuery"] == hostile
    assert "<title>&lt;/script&gt;" in page


def test_missing_assets_render_a_page_that_says_how_to_build_them(no_assets: Path) -> None:
    assert not graphiql.assets_available()
    page = graphiql.graphiql_html("/graphql", "/graphql")

    assert graphiql.BUILD_COMMAND in page
    assert "/graphiql/assets/" not in page
    assert "<code>/graphql</code>" in page


def asset_client() -> httpx.AsyncClient:
    app = Starlette(routes=graphiql.graphiql_routes())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_asset_routes_serve_the_bundle(built_assets: Path) -> None:
    async with asset_client() as client:
        response = await client.get("/graphiql/assets/graphiql.js")
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]
        stylesheet = await client.get("/graphiql/assets/graphiql.css")
        assert stylesheet.text == "body { margin: 0; }\n"
        assert (await client.get("/graphiql/assets/nothing.js")).status_code == 404


async def test_asset_routes_answer_404_with_a_hint_when_not_built(no_assets: Path) -> None:
    async with asset_client() as client:
        response = await client.get("/graphiql/assets/graphiql.js")
    assert response.status_code == 404
    assert graphiql.BUILD_COMMAND in response.text
