"""The layout of ``media-gateway cluster``: the ports and environment of docker-compose.yml."""

from __future__ import annotations

from pathlib import Path

from media_gateway.app.cluster import Cluster


def test_the_cluster_lays_out_ports_and_environment_like_the_compose_file(
    tmp_path: Path,
) -> None:
    layout = Cluster(data_dir=tmp_path, base_port=5000, gateways=3, env={"PATH": "/bin"})
    ports = {name: service.port for name, service in layout.services.items()}
    assert ports == {
        "identity": 5001,
        "catalog": 5002,
        "recommendations": 5003,
        "playback": 5004,
        "sync": 5005,
        "gateway-1": 5000,
        "gateway-2": 5006,
        "gateway-3": 5007,
    }
    gateway = layout.services["gateway-2"].env
    assert gateway["GATEWAY_AUTHENTICATOR"] == "media_gateway.app.authn:authenticate"
    assert gateway["SUBGRAPH_URL_SYNC"] == "http://127.0.0.1:5005/graphql"
    assert gateway["JWT_JWKS_URL"] == "http://127.0.0.1:5001/.well-known/jwks.json"
    playback = layout.services["playback"].env
    assert playback["SUBGRAPH_URL_CATALOG"] == "http://127.0.0.1:5002/graphql"
    assert playback["SUBGRAPH_URL_SYNC"] == "http://127.0.0.1:5005/graphql"
    data_dirs = {s.env["MEDIA_GATEWAY_DATA_DIR"] for s in layout.services.values()}
    assert len(data_dirs) == len(layout.services)  # no shared data folder
    # without DATABASE_URL, one SQLite file shared by every service
    assert len({s.env["DATABASE_URL"] for s in layout.services.values()}) == 1


def test_the_cluster_runs_every_product_service_of_the_compose_file(tmp_path: Path) -> None:
    """The same services, commands, subgraph ports and variables as docker-compose.yml
    (where the compose file names a host, the cluster names 127.0.0.1; the gateways, which
    share port 4000 behind the compose file's load balancer, get a port each)."""
    import shlex

    import pytest

    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load(
        (Path(__file__).resolve().parents[3] / "docker-compose.yml").read_text()
    )
    product = {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("media-gateway")
    }
    layout = Cluster(data_dir=tmp_path, base_port=4000, gateways=2, env={})
    assert set(product) == set(layout.services)
    for name, service in layout.services.items():
        expected = shlex.split(product[name]["command"])
        actual = service.command(layout.supergraph)
        assert actual[3] == expected[1]  # subgraph | gateway
        if service.kind == "subgraph":  # (the gateways share one port behind the balancer)
            assert actual[4] == expected[2]  # its name
            assert actual[actual.index("--port") + 1] == expected[expected.index("--port") + 1]
        compose_env = {
            k for k in product[name]["environment"] if k.startswith(("SUBGRAPH_URL_", "GATEWAY_"))
        }
        assert compose_env <= set(service.env), (name, compose_env - set(service.env))
        assert "JWT_JWKS_URL" in service.env
