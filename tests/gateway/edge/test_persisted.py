"""Trusted documents: safelisting and document ids through the gateway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from media_gateway.gateway.edge import EdgeConfig
from media_gateway.gateway.edge.persisted import Manifest, ManifestError

from .conftest import GatewayFactory

LISTED = "query Prices { products { price } }"
APOLLO_MANIFEST = {
    "format": "apollo-persisted-query-manifest",
    "version": 1,
    "operations": [{"id": "prices-v1", "name": "Prices", "type": "query", "body": LISTED}],
}
RELAY_MANIFEST = {"relay-latest": "query Latest { latestReview { stars } }"}


def _config(tmp_path: Path, **kw: object) -> EdgeConfig:
    apollo = tmp_path / "apollo.json"
    apollo.write_text(json.dumps(APOLLO_MANIFEST))
    relay = tmp_path / "relay.json"
    relay.write_text(json.dumps(RELAY_MANIFEST))
    return EdgeConfig(persisted_mode="safelist", persisted_manifests=(apollo, relay), **kw)  # type: ignore[arg-type]


async def test_safelist_refuses_ad_hoc_and_serves_listed_ids(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gw = await make_gateway(_config(tmp_path))
    ad_hoc = await gw.query("{ products { name } }")
    assert ad_hoc.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert "data" not in ad_hoc.json()
    listed = await gw.post({"documentId": "prices-v1"})
    assert listed.json() == {"data": {"products": [{"price": 10 * i} for i in range(1, 6)]}}
    relay = await gw.post({"id": "relay-latest"})
    assert relay.json() == {"data": {"latestReview": {"stars": 5}}}
    # Apollo clients send the manifest id in the APQ extension
    apollo = await gw.post(
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "prices-v1"}}}
    )
    assert apollo.json()["data"]["products"][0] == {"price": 10}
    # the exact text of a listed operation may run too
    assert (await gw.query(LISTED)).json()["data"]["products"][0] == {"price": 10}
    unknown = await gw.post({"documentId": "nope"})
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_safelist_introspection_only_when_configured(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    introspect = "{ __schema { queryType { name } } }"
    closed = await make_gateway(_config(tmp_path))
    r = await closed.query(introspect)
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    opened = await make_gateway(_config(tmp_path, safelist_allows_introspection=True))
    r = await opened.query(introspect)
    assert r.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_log_unknown_runs_everything(
    make_gateway: GatewayFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path)
    gw = await make_gateway(
        EdgeConfig(persisted_mode="log-unknown", persisted_manifests=config.persisted_manifests)
    )
    with caplog.at_level("WARNING", logger="media_gateway.gateway.edge"):
        r = await gw.query("query Ad { latestReview { body } }")
    assert r.json() == {"data": {"latestReview": {"body": "Latest"}}}
    assert any("not in the persisted manifests" in m for m in caplog.messages)


def test_manifest_formats() -> None:
    m = Manifest.from_data(APOLLO_MANIFEST, RELAY_MANIFEST)
    assert len(m) == 2
    assert m.id_of(LISTED) == "prices-v1"
    with pytest.raises(ManifestError):
        Manifest.from_data({"format": "apollo-persisted-query-manifest", "version": 2})
    with pytest.raises(ManifestError):
        Manifest.from_data([1, 2])
