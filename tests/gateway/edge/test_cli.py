"""`media-gateway persisted extract`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from media_gateway.cli import main
from media_gateway.gateway.edge import EdgeConfig

from .conftest import SUPERGRAPH, GatewayFactory


def _write(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "ops"
    src.mkdir()
    for name, text in files.items():
        (src / name).write_text(text)
    (tmp_path / "supergraph.graphql").write_text(SUPERGRAPH)
    return src


async def test_extract_builds_a_manifest_the_gateway_serves(
    tmp_path: Path, make_gateway: GatewayFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(
        tmp_path,
        {
            "products.graphql": "query Cheap { products(first: 1) { ...Named } }",
            "fragments.graphql": "fragment Named on Product { name }",
        },
    )
    out = tmp_path / "manifest.json"
    code = main(
        [
            "persisted",
            "extract",
            str(src),
            "--supergraph",
            str(tmp_path / "supergraph.graphql"),
            "-o",
            str(out),
        ]
    )
    assert code == 0
    manifest = json.loads(out.read_text())
    assert manifest["format"] == "apollo-persisted-query-manifest"
    (op,) = manifest["operations"]
    assert op["name"] == "Cheap" and "fragment Named" in op["body"]
    gw = await make_gateway(EdgeConfig(persisted_mode="safelist", persisted_manifests=(out,)))
    r = await gw.post({"documentId": op["id"]})
    assert r.json() == {"data": {"products": [{"name": "Product 1"}]}}


def test_extract_fails_on_breaking_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path, {"old.graphql": "query Old { products { title } }"})
    code = main(
        [
            "persisted",
            "extract",
            str(src),
            "--supergraph",
            str(tmp_path / "supergraph.graphql"),
            "--format",
            "relay",
        ]
    )
    assert code == 1
    assert "title" in capsys.readouterr().err
