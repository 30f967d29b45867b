"""Service health as the console shows it, from what the platform already exposes: the
gateway's ``/ready`` (each subgraph's circuit-breaker state) and ``/health/subgraphs`` (the
breakers' details, when the edge's resilience is on), and each service's ``/metrics``
(Prometheus text: ``outbox_unpublished_events``, ``outbox_oldest_unpublished_age_seconds``,
``kafka_consumer_lag``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from .client import GatewayLink


@dataclass
class OutboxLag:
    service: str
    outbox: str
    pending: int
    oldest_seconds: float


@dataclass
class ConsumerLag:
    service: str
    group: str
    topic: str
    partition: str
    lag: int


@dataclass
class Health:
    ready: bool
    reason: str | None
    subgraphs: dict[str, str] = field(default_factory=dict)  # name -> breaker state
    breakers: dict[str, dict[str, Any]] = field(default_factory=dict)
    outboxes: list[OutboxLag] = field(default_factory=list)
    consumers: list[ConsumerLag] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # services whose metrics failed


async def read_health(gateway: GatewayLink) -> Health:
    status, body = await gateway.get_json("/ready")
    body = body if isinstance(body, dict) else {}
    dependencies = body.get("dependencies") or {}
    subgraphs = dependencies.get("subgraphs") or {}
    health = Health(
        ready=status == 200,
        reason=None if status == 200 else str(body.get("reason") or "the gateway did not answer"),
        subgraphs={str(k): str(v) for k, v in subgraphs.items()},
    )
    status, body = await gateway.get_json("/health/subgraphs")
    if status == 200 and isinstance(body, dict):
        health.breakers = {
            str(name): detail
            for name, detail in (body.get("subgraphs") or {}).items()
            if isinstance(detail, dict)
        }
    for service, source in sorted(gateway.metrics.items()):
        try:
            exposition = await source()
        except Exception:
            exposition = None
        if exposition is None:
            health.unreadable.append(service)
            continue
        outboxes, consumers = parse_metrics(service, exposition)
        health.outboxes.extend(outboxes)
        health.consumers.extend(consumers)
    return health


def parse_metrics(service: str, exposition: str) -> tuple[list[OutboxLag], list[ConsumerLag]]:
    pending: dict[str, int] = {}
    ages: dict[str, float] = {}
    consumers: list[ConsumerLag] = []
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "outbox_unpublished_events":
                pending[labels.get("outbox", "")] = int(sample.value)
            elif sample.name == "outbox_oldest_unpublished_age_seconds":
                ages[labels.get("outbox", "")] = float(sample.value)
            elif sample.name == "kafka_consumer_lag":
                consumers.append(
                    ConsumerLag(
                        service,
                        labels.get("group", ""),
                        labels.get("topic", ""),
                        labels.get("partition", ""),
                        int(sample.value),
                    )
                )
    outboxes = [
        OutboxLag(service, name, pending.get(name, 0), ages.get(name, 0.0))
        for name in sorted(set(pending) | set(ages))
    ]
    return outboxes, consumers
