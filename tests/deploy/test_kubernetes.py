"""deploy/kubernetes renders to valid manifests that run what docker-compose.yml runs.

Each overlay is rendered (by tests/deploy/kustomize_render.py, and compared with `kubectl kustomize`
where kubectl is installed), every manifest is validated against the OpenAPI schemas of a
pinned Kubernetes version, and the services, ports, commands and environment are checked
against the CLI and docker-compose.yml.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

from kustomize_render import render  # noqa: E402

from media_gateway.app import DEFAULT_PORTS  # noqa: E402
from media_gateway.cli import build_parser  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"
OVERLAYS = ("local", "production")
KUBERNETES_VERSION = "1.32.0"  # the oldest release the manifests promise to support
IMAGE_APP_DIR = "/app"
GATEWAY_PORT = 4000
# Secrets an operator creates next to the manifests (docs/deploy.md), per overlay
EXTERNAL_SECRETS = {
    "local": {"media-gateway-jwt-keys"},
    "production": {"media-gateway", "media-gateway-jwt-keys"},
}

Resource = dict[str, Any]


def by_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def keyed(resources: list[Resource]) -> dict[tuple[str, str], Resource]:
    return {(r["kind"], r["metadata"]["name"]): r for r in resources}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Resource]]:
    return request.param, render(KUBERNETES / "overlays" / request.param)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def container(deployment: Resource) -> Resource:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def parse_cli(argv: list[str]) -> Any:
    assert argv[0] == "media-gateway", argv
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit as exc:
        pytest.fail(f"`{shlex.join(argv)}` is not a valid media-gateway command (exit {exc})")


def resolved_env(spec: Resource, resources: list[Resource]) -> dict[str, str]:
    """A container's environment with its ConfigMap and Secret references looked up."""
    config_maps, secrets = by_kind(resources, "ConfigMap"), by_kind(resources, "Secret")
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for item in spec.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        secret = secrets.get(ref["name"])
        if secret is not None and ref["key"] in secret.get("stringData", {}):
            env[item["name"]] = secret["stringData"][ref["key"]]
        else:
            env[item["name"]] = f"<secret {ref['name']}/{ref['key']}>"
    return env


def compose_env(service: Resource) -> dict[str, str]:
    def interpolate(value: str) -> str:  # ${NAME:-default} as docker compose reads it unset
        return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)

    return {k: interpolate(str(v)) for k, v in (service.get("environment") or {}).items()}


def graceful_shutdown_seconds(module: str) -> int:
    source = (REPO_ROOT / "src" / "media_gateway" / module).read_text(encoding="utf-8")
    values = {int(v) for v in re.findall(r"timeout_graceful_shutdown=(\d+)", source)}
    assert values, f"{module}: no timeout_graceful_shutdown"
    return max(values)


def test_kubectl_kustomize_renders_the_same(overlay: tuple[str, list[Resource]]) -> None:
    name, resources = overlay
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    out = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES / "overlays" / name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert keyed([d for d in yaml.safe_load_all(out) if d]) == keyed(resources)


def test_every_manifest_is_valid_for_the_pinned_kubernetes(
    overlay: tuple[str, list[Resource]],
) -> None:
    _, resources = overlay
    assert resources
    for resource in resources:
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{resource['kind']}/{resource['metadata']['name']}: {exc.message}")


def test_one_deployment_and_service_per_subgraph_and_the_gateway(
    overlay: tuple[str, list[Resource]],
) -> None:
    _, resources = overlay
    deployments, services = by_kind(resources, "Deployment"), by_kind(resources, "Service")
    expected = {**DEFAULT_PORTS, "gateway": GATEWAY_PORT}
    assert set(deployments) == set(expected) == set(services)
    for name, port in expected.items():
        spec = container(deployments[name])
        args = parse_cli(spec["args"])
        assert args.port == port, f"{name}: listens on {args.port}, expected {port}"
        assert args.host == "0.0.0.0", f"{name}: must listen on every interface"
        if name == "gateway":
            assert args.command == "gateway"
            supergraph = str(args.supergraph)
            assert supergraph.startswith(f"{IMAGE_APP_DIR}/")
            assert (REPO_ROOT / supergraph.removeprefix(f"{IMAGE_APP_DIR}/")).is_file()
        else:
            assert (args.command, args.name) == ("subgraph", name)
        (container_port,) = spec["ports"]
        assert container_port["containerPort"] == port
        (service_port,) = services[name]["spec"]["ports"]
        assert service_port["port"] == port
        assert service_port["targetPort"] in (port, container_port["name"])
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert services[name]["spec"]["selector"].items() <= pod_labels.items()


def test_ports_and_commands_match_docker_compose(
    overlay: tuple[str, list[Resource]], compose: dict[str, Any]
) -> None:
    _, resources = overlay
    deployments = by_kind(resources, "Deployment")
    services = compose["services"]
    for name in DEFAULT_PORTS:
        compose_args = shlex.split(services[name]["command"])
        assert container(deployments[name])["args"] == compose_args, name
    gateway_args = shlex.split(services["gateway-1"]["command"])
    assert container(deployments["gateway"])["args"] == gateway_args


def test_environment_matches_docker_compose(
    overlay: tuple[str, list[Resource]], compose: dict[str, Any]
) -> None:
    name, resources = overlay
    deployments = by_kind(resources, "Deployment")
    pairs = [(n, n) for n in DEFAULT_PORTS] + [("gateway", "gateway-1"), ("gateway", "gateway-2")]
    for deployment, service in pairs:
        expected = compose_env(compose["services"][service])
        actual = resolved_env(container(deployments[deployment]), resources)
        missing = expected.keys() - actual.keys()
        assert not missing, f"{name}/{deployment}: missing {sorted(missing)}"
        if name == "local":  # the compose deployment on a cluster: the very same values
            different = {k: (actual[k], v) for k, v in expected.items() if actual[k] != v}
            assert not different, f"{deployment}: differs from {service}: {different}"


def test_configuration_and_secrets_are_all_provided(overlay: tuple[str, list[Resource]]) -> None:
    name, resources = overlay
    config_maps, secrets = by_kind(resources, "ConfigMap"), by_kind(resources, "Secret")
    provided = set(secrets) | EXTERNAL_SECRETS[name]
    workloads = [*by_kind(resources, "Deployment").values(), *by_kind(resources, "Job").values()]
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        for spec in pod["containers"]:
            for source in spec.get("envFrom", []):
                assert source["configMapRef"]["name"] in config_maps
            for item in spec.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    assert ref["name"] in provided, f"{workload['metadata']['name']}: {ref}"
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in provided
    for secret in EXTERNAL_SECRETS[name]:
        assert secret in (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    identity = container(by_kind(resources, "Deployment")["identity"])
    key_dir = resolved_env(identity, resources)["JWT_KEY_DIR"]
    assert any(m["mountPath"] == key_dir for m in identity["volumeMounts"])
    assert config_maps["media-gateway"]["data"]["MEDIA_GATEWAY_AUTO_MIGRATE"] == "0"


def test_probes_resources_and_graceful_termination(
    overlay: tuple[str, list[Resource]], compose: dict[str, Any]
) -> None:
    _, resources = overlay
    compose_grace = int(compose["x-product"]["stop_grace_period"].removesuffix("s"))
    drain = {
        "gateway": graceful_shutdown_seconds("gateway/cli.py"),
        **dict.fromkeys(DEFAULT_PORTS, graceful_shutdown_seconds("app/cli.py")),
    }
    for name, deployment in by_kind(resources, "Deployment").items():
        spec = container(deployment)
        assert spec["livenessProbe"]["httpGet"]["path"] == "/health", name
        assert spec["readinessProbe"]["httpGet"]["path"] == "/ready", name
        assert spec["startupProbe"]["httpGet"]["path"] == "/health", name
        requests = spec["resources"]["requests"]
        assert {"cpu", "memory"} <= requests.keys(), name
        assert "memory" in spec["resources"]["limits"], name
        # the pod is taken out of the Service during preStop, then uvicorn closes its
        # WebSockets and finishes requests within its graceful shutdown timeout
        pre_stop = spec["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace >= int(pre_stop[1]) + drain[name], name
        assert grace == compose_grace, f"{name}: {grace}s, docker-compose.yml {compose_grace}s"


def test_autoscalers_and_disruption_budgets_cover_every_deployment(
    overlay: tuple[str, list[Resource]],
) -> None:
    _, resources = overlay
    deployments = by_kind(resources, "Deployment")
    autoscalers = by_kind(resources, "HorizontalPodAutoscaler")
    budgets = by_kind(resources, "PodDisruptionBudget")
    assert set(autoscalers) == set(deployments) == set(budgets)
    for name, deployment in deployments.items():
        target = autoscalers[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        hpa = autoscalers[name]["spec"]
        assert 1 <= hpa["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["maxReplicas"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items(), name
    assert deployments["gateway"]["spec"]["replicas"] >= 2, "one gateway is a single point"


def test_a_migration_job_migrates(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    (job,) = by_kind(resources, "Job").values()
    (spec,) = job["spec"]["template"]["spec"]["containers"]
    assert parse_cli(spec["args"]).command == "migrate"
    assert "DATABASE_URL" in resolved_env(spec, resources)


def test_the_production_overlay_points_at_managed_services() -> None:
    resources = render(KUBERNETES / "overlays" / "production")
    data = by_kind(resources, "ConfigMap")["media-gateway"]["data"]
    for key in ("REDIS_URL", "QDRANT_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        assert "example.com" in data[key], f"{key} still points inside the cluster"
    assert data["MEDIA_GATEWAY_ENV"] == "production"
    images = {container(d)["image"] for d in by_kind(resources, "Deployment").values()}
    assert len(images) == 1 and not images.pop().endswith(":latest")
