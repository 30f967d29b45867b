"""deploy/monitoring: alert rules promtool would load and a dashboard on metrics that exist.

The metrics are those the services really serve on /metrics: every metric of a gateway's
telemetry is exercised once and its exposition is read back, and a subgraph service's
/metrics is read through its ASGI app, so a renamed metric fails here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")
promql_parser = pytest.importorskip("promql_parser")

import httpx  # noqa: E402

from media_gateway.app import SUBGRAPHS  # noqa: E402
from media_gateway.assembly.base import Runtime  # noqa: E402
from media_gateway.gateway.edge.telemetry import Telemetry  # noqa: E402
from media_gateway.platform.settings import Settings  # noqa: E402

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
RULE_FIELDS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
SELECTOR_NAME = re.compile(r'name: Some\(\s*"([^"]+)"', re.S)
TYPE_LINE = re.compile(r"^# TYPE (\S+) (gauge|untyped)$", re.M)


def exported_metrics() -> set[str]:
    telemetry = Telemetry(tracing=False)
    telemetry.record_request("Home", "query", 0.01, [{"extensions": {"code": "FORBIDDEN"}}])
    telemetry.fetch_done("catalog", 0.01, "ok")
    telemetry.cache("response", hit=True)
    telemetry.cache("response", hit=False)
    telemetry.breaker_changed("catalog", "open")
    telemetry.subscription_opened()
    body, _ = telemetry.exposition()
    return sample_names(body.decode())


def sample_names(exposition: str) -> set[str]:
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


async def subgraph_service_metrics(data_dir: Path) -> set[str]:
    """What a subgraph service serves on /metrics. A gauge with labels is declared there
    before its first series (a consumer group not assigned yet): its name counts too."""
    settings = Settings.from_env({"MEDIA_GATEWAY_DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"})
    runtime = Runtime.create(dataclasses.replace(settings, seed_demo_data=False))
    service = SUBGRAPHS["playback"](runtime)
    await runtime.database.migrate()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.asgi_app()), base_url="http://playback"
        ) as http:
            response = await http.get("/metrics")
        assert response.status_code == 200
        return sample_names(response.text) | {name for name, _ in TYPE_LINE.findall(response.text)}
    finally:
        await runtime.close()


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects, from its parsed syntax tree."""
    return set(SELECTOR_NAME.findall(repr(promql_parser.parse(expr))))


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    names = exported_metrics()
    assert "gateway_requests_total" in names and "gateway_active_subscriptions" in names
    served = asyncio.run(subgraph_service_metrics(tmp_path_factory.mktemp("subgraph")))
    assert {"outbox_unpublished_events", "kafka_consumer_lag"} <= served
    return names | served


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((MONITORING / "alerts.yml").read_text(encoding="utf-8"))
    assert set(document) == {"groups"}
    found: list[dict[str, Any]] = []
    group_names = [group["name"] for group in document["groups"]]
    assert len(group_names) == len(set(group_names)), "group names must be unique"
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}, group.keys()
        assert group["rules"], f"group {group['name']} has no rules"
        found.extend(group["rules"])
    return found


def test_rules_have_the_structure_promtool_checks(rules: list[dict[str, Any]]) -> None:
    names = set()
    for rule in rules:
        assert set(rule) <= RULE_FIELDS, f"{rule.get('alert')}: unknown fields"
        assert isinstance(rule.get("alert"), str) and LABEL_NAME.match(rule["alert"])
        assert rule["alert"] not in names, f"{rule['alert']} twice"
        names.add(rule["alert"])
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert DURATION.match(str(rule.get("for", "0s"))), rule["for"]
        for label in rule.get("labels", {}):
            assert LABEL_NAME.match(label), label
        assert rule["labels"].get("severity") in {"page", "warning"}
        assert {"summary", "description"} <= rule["annotations"].keys(), rule["alert"]


def test_every_expression_parses(rules: list[dict[str, Any]]) -> None:
    for rule in rules:
        try:
            promql_parser.parse(rule["expr"])
        except ValueError as exc:
            pytest.fail(f"{rule['alert']}: {exc}")


def test_the_issue_alerts_are_there(rules: list[dict[str, Any]]) -> None:
    alerts = {rule["alert"] for rule in rules}
    assert {
        "GatewayHighErrorRate",
        "GatewayHighLatency",
        "CircuitBreakerOpen",
        "SubscriptionsHigh",
        "SubscriptionsDropped",
        "OutboxLagHigh",
        "KafkaConsumerLagHigh",
    } <= alerts


def test_rules_reference_only_exported_metrics(
    rules: list[dict[str, Any]], metrics: set[str]
) -> None:
    for rule in rules:
        names = metric_names(rule["expr"])
        assert names, f"{rule['alert']}: selects no metric"
        assert names <= metrics, f"{rule['alert']}: unknown {sorted(names - metrics)}"


def test_dashboard_targets_reference_only_exported_metrics(metrics: set[str]) -> None:
    dashboard = json.loads((MONITORING / "dashboard.json").read_text(encoding="utf-8"))
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids)), "panel ids must be unique"
    used: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            try:
                names = metric_names(target["expr"])
            except ValueError as exc:
                pytest.fail(f"panel {panel['title']!r}: {exc}")
            assert names <= metrics, f"panel {panel['title']!r}: unknown {names - metrics}"
            used |= names
    families = {re.sub(r"_(total|bucket|count|sum|created)$", "", name) for name in metrics}
    shown = {re.sub(r"_(total|bucket|count|sum|created)$", "", name) for name in used}
    assert families <= shown, f"metrics with no panel: {sorted(families - shown)}"
