"""The home query through the gateway with one subgraph down (embedded mode).

A failing subgraph nulls only its own part of the answer: the fields it resolves, or the
nearest nullable field above them, each with an error naming the subgraph and the path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.gateway import clients as gateway_clients
from media_gateway.gateway.clients import SubgraphFetchError, SubgraphRequest
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_WATCHLIST

from .test_federated_query import _post, _supergraph

HOME = """
{ me { displayName
       watchlist { title }
       continueWatching { positionSeconds content { title } }
       recommendations(first: 3) { content { title } reason } }
  trending(first: 3) { title } }
"""


class DeadClient:
    """A subgraph that cannot be reached."""

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        raise SubgraphFetchError("could not be reached: ConnectError")

    async def aclose(self) -> None:
        return None


async def _home(platform: Platform, dead: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The home query through an embedded gateway whose client for `dead` always fails."""
    from media_gateway.app.serve import build_gateway_app

    real = gateway_clients.InProcessClient
    schema = platform.subgraphs[dead].schema

    def client(s: Any, context: Any = None, **kwargs: Any) -> Any:
        return DeadClient() if s is schema else real(s, context, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(gateway_clients, "InProcessClient", client)
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
        return await _post(http, HOME, token=token)


def _errors(body: dict[str, Any]) -> list[tuple[list[Any], str]]:
    return [(e["path"], e["extensions"]["serviceName"]) for e in body["errors"]]


async def test_recommendations_down_keeps_the_rest_of_the_home_screen(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = await _home(platform, "recommendations", monkeypatch)
    me = body["data"]["me"]
    assert me["displayName"] == "Demo Viewer"
    assert len(me["watchlist"]) == len(DEMO_WATCHLIST)
    assert all(item["title"] for item in me["watchlist"])
    assert me["continueWatching"] and all(p["content"]["title"] for p in me["continueWatching"])
    assert me["recommendations"] is None
    # trending is the recommendations subgraph's own root field: it goes with it
    assert body["data"]["trending"] is None
    assert sorted(_errors(body)) == [
        (["me", "recommendations"], "recommendations"),
        (["trending"], "recommendations"),
    ]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"SUBGRAPH_FETCH_FAILED"}


async def test_catalog_down_keeps_the_viewer(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = await _home(platform, "catalog", monkeypatch)
    me = body["data"]["me"]
    assert me is not None
    assert me["displayName"] == "Demo Viewer"
    # titles come from the catalog: the lists that show them are null, nothing above them
    assert me["watchlist"] is None
    assert me["recommendations"] is None
    assert body["data"]["trending"] is None
    # the positions stay, their titles are gone
    assert me["continueWatching"]
    assert all(p["positionSeconds"] >= 0 and p["content"] is None for p in me["continueWatching"])
    errors = _errors(body)
    assert {service for _path, service in errors} == {"catalog"}
    assert {tuple(path[:2]) for path, _service in errors} >= {
        ("me", "watchlist"),
        ("me", "continueWatching"),
        ("me", "recommendations"),
    }
    assert any(path[0] == "trending" for path, _service in errors)
    assert all(path[-1] == "title" for path, _service in errors)


@pytest.mark.parametrize(
    ("dead", "field"), [("sync", "watchlist"), ("playback", "continueWatching")]
)
async def test_a_subgraph_adding_a_field_to_the_viewer_loses_only_that_field(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, dead: str, field: str
) -> None:
    body = await _home(platform, dead, monkeypatch)
    me = body["data"]["me"]
    assert me["displayName"] == "Demo Viewer"
    assert me[field] is None
    assert me["recommendations"]
    assert body["data"]["trending"]
    assert _errors(body) == [(["me", field], dead)]
