"""docker-compose.yml describes a distributed deployment that can actually start.

No container engine is needed: the file is parsed and checked against the real CLI, so a
command the product does not have, a dependency on a missing service or a missing health check
fails here rather than at `docker compose up`.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

yaml = pytest.importorskip("yaml")

from media_gateway.cli import build_parser  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
NGINX_CONF = REPO_ROOT / "docker" / "nginx.conf"
IMAGE_APP_DIR = "/app"  # where docker/Dockerfile puts the repository's files

SUBGRAPHS = ("identity", "catalog", "recommendations", "playback", "sync")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(compose, dict) and isinstance(compose.get("services"), dict)
    return compose["services"]


def is_product(service: dict[str, Any]) -> bool:
    """A service running the product image (as opposed to PostgreSQL, Redis, …)."""
    build = service.get("build")
    dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
    image = str(service.get("image", ""))
    return dockerfile.endswith("docker/Dockerfile") or image.startswith("media-gateway")


def command_argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if isinstance(command, list):
        return [str(part) for part in command]
    assert isinstance(command, str), "a product service needs a command"
    return shlex.split(command)


def parse_cli(argv: list[str]) -> Any:
    assert argv and argv[0] == "media-gateway", f"expected a media-gateway command, got {argv}"
    parser = build_parser()
    try:
        return parser.parse_args(argv[1:])
    except SystemExit as exc:  # argparse reports unknown commands and options this way
        pytest.fail(f"`{shlex.join(argv)}` is not a valid media-gateway command (exit {exc})")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def product_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if is_product(svc)}


def test_every_product_command_parses_with_the_cli(services: dict[str, dict[str, Any]]) -> None:
    products = product_services(services)
    assert products, "no service runs the product image"
    for name, service in products.items():
        args = parse_cli(command_argv(service))
        assert callable(getattr(args, "func", None)), f"{name}: command has no handler"


def test_the_image_default_command_parses_with_the_cli() -> None:
    match = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert match, "docker/Dockerfile has no CMD in exec form"
    parse_cli(json.loads(match.group(1)))


def test_one_service_per_subgraph_on_its_own_port(services: dict[str, dict[str, Any]]) -> None:
    for index, subgraph in enumerate(SUBGRAPHS, start=1):
        assert subgraph in services, f"no service for the {subgraph} subgraph"
        argv = command_argv(services[subgraph])
        assert argv[1:3] == ["subgraph", subgraph], f"{subgraph}: runs {shlex.join(argv)}"
        parse_cli(argv)
        assert argv[argv.index("--port") + 1] == str(4000 + index)


def test_two_gateway_replicas_reach_every_subgraph(services: dict[str, dict[str, Any]]) -> None:
    gateways = {
        name: svc
        for name, svc in product_services(services).items()
        if command_argv(svc)[1:2] == ["gateway"]
    }
    assert len(gateways) >= 2, f"expected at least two gateway replicas, found {sorted(gateways)}"
    subgraph_ports = {
        name: command_argv(services[name])[command_argv(services[name]).index("--port") + 1]
        for name in SUBGRAPHS
    }
    for name, service in gateways.items():
        argv = command_argv(service)
        supergraph = argv[argv.index("--supergraph") + 1]
        assert supergraph.startswith(f"{IMAGE_APP_DIR}/"), f"{name}: {supergraph} not in image"
        local = REPO_ROOT / supergraph.removeprefix(f"{IMAGE_APP_DIR}/")
        assert local.is_file(), f"{name}: the supergraph {local.relative_to(REPO_ROOT)} is missing"
        env = environment(service)
        for subgraph, port in subgraph_ports.items():
            url = env.get(f"SUBGRAPH_URL_{subgraph.upper()}")
            assert url, f"{name}: no SUBGRAPH_URL_{subgraph.upper()}"
            parts = urlsplit(url)
            assert (parts.hostname, str(parts.port)) == (subgraph, port), f"{name}: {url}"
        depends = service.get("depends_on") or {}
        assert set(SUBGRAPHS) <= set(depends), f"{name}: must wait for every subgraph"


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck")
        assert isinstance(check, dict), f"{name}: no healthcheck"
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        test = check.get("test")
        assert test and test != ["NONE"], f"{name}: healthcheck has no test"


def test_depends_on_waits_for_healthy_services_that_exist(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        depends = service.get("depends_on")
        if depends is None:
            continue
        assert isinstance(depends, dict), f"{name}: depends_on must name a condition per service"
        for target, spec in depends.items():
            assert target in services, f"{name}: depends on unknown service {target!r}"
            assert target != name, f"{name}: depends on itself"
            assert isinstance(spec, dict), f"{name} -> {target}: no condition"
            assert spec.get("condition") == "service_healthy", (
                f"{name} -> {target}: condition is {spec.get('condition')!r}, "
                "expected 'service_healthy'"
            )


def test_product_services_get_the_service_settings(services: dict[str, dict[str, Any]]) -> None:
    required = {"DATABASE_URL", "REDIS_URL", "QDRANT_URL", "KAFKA_BOOTSTRAP_SERVERS"}
    for name, service in product_services(services).items():
        env = environment(service)
        missing = required - env.keys()
        assert not missing, f"{name}: missing settings {sorted(missing)}"
        assert any(key.startswith("JWT_") for key in env), f"{name}: no JWT_* settings"
        assert urlsplit(env["DATABASE_URL"]).hostname in services
        assert urlsplit(env["REDIS_URL"]).hostname in services
        assert urlsplit(env["QDRANT_URL"]).hostname in services
        for server in env["KAFKA_BOOTSTRAP_SERVERS"].split(","):
            assert server.rsplit(":", 1)[0] in services, f"{name}: unknown broker {server}"


def test_kafka_runs_in_kraft_mode(services: dict[str, dict[str, Any]]) -> None:
    assert not any("zookeeper" in name.lower() for name in services), "ZooKeeper service found"
    for name, service in services.items():
        assert "zookeeper" not in str(service.get("image", "")).lower(), name
        assert not any("ZOOKEEPER" in key for key in environment(service)), name
    kafka = [s for s in services.values() if "kafka" in str(s.get("image", "")).lower()]
    assert len(kafka) == 1, "expected one Kafka service"
    env = environment(kafka[0])
    assert "controller" in env.get("KAFKA_PROCESS_ROLES", ""), "Kafka must run its KRaft controller"
    assert env.get("KAFKA_CONTROLLER_QUORUM_VOTERS"), "Kafka needs KRaft quorum voters"


def test_load_balancer_fronts_every_gateway(services: dict[str, dict[str, Any]]) -> None:
    gateways = {
        name
        for name, svc in product_services(services).items()
        if command_argv(svc)[1:2] == ["gateway"]
    }
    upstreams = set(re.findall(r"^\s*server\s+([\w.-]+):4000\b", NGINX_CONF.read_text(), re.M))
    assert upstreams == gateways
    balancers = [
        name for name, svc in services.items() if "nginx" in str(svc.get("image", "")).lower()
    ]
    assert len(balancers) == 1
    balancer = services[balancers[0]]
    assert "4000:4000" in [str(port) for port in balancer.get("ports", [])]
    assert gateways <= set(balancer.get("depends_on") or {})
