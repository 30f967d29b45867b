"""What a service depends on, probed for ``/ready``, and start-up failures told in one line.

A service is ready when what it cannot work without answers: its database. What it can work
around is listed but does not make it unready: Redis (fallbacks in the database and in
process), Kafka (events wait in the outbox), Qdrant (search fails, the rest of the catalog
answers), the subgraphs it asks about titles and devices (writes naming them are refused
until they answer) and, for services that verify tokens with the identity service's keys,
the JWKS (only while no key was ever learnt from it). ``/ready`` answers 200 with the
missing optional ones under ``degraded``, or 503 naming each failing required one, so that
an orchestrator takes a service out of rotation only when it cannot serve.

Nothing here shows a client an internal address: dependencies are named, never located.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from media_gateway.platform.optional_services import PROBE_TIMEOUT_SECONDS, redis_answers
from media_gateway.platform.settings import Settings
from media_gateway.platform.subgraph_urls import subgraph_url

log = logging.getLogger(__name__)

UP = "up"
UNREACHABLE = "unreachable"

# the other subgraphs a subgraph asks when it runs alone (see schema/references.py)
SUBGRAPHS_USED: Mapping[str, tuple[str, ...]] = {
    "sync": ("catalog",),
    "playback": ("catalog", "sync"),
    "recommendations": ("catalog",),
}
# the subgraphs that read or write Qdrant and publish to or consume from Kafka
QDRANT_USERS = frozenset({"catalog"})
KAFKA_USERS = frozenset({"catalog", "playback", "recommendations"})


class StartupError(Exception):
    """A service cannot start as configured; the message says, in one line, what to do."""


@dataclass(frozen=True)
class Dependency:
    """One thing a service depends on and how to tell whether it answers."""

    name: str
    required: bool
    probe: Callable[[], Awaitable[str]]  # UP, or why not (never an address)


async def _guarded(dependency: Dependency, timeout: float) -> tuple[Dependency, str]:
    try:
        async with asyncio.timeout(timeout):
            return dependency, await dependency.probe()
    except Exception:  # a probe that fails or hangs: the dependency does not answer
        return dependency, UNREACHABLE


async def report(
    subgraph: str, dependencies: Sequence[Dependency], timeout: float = PROBE_TIMEOUT_SECONDS
) -> tuple[int, dict[str, Any]]:
    """(status code, body) of ``/ready``: every dependency probed at once."""
    results = await asyncio.gather(*(_guarded(d, timeout + 0.5) for d in dependencies))
    states = {dependency.name: state for dependency, state in results}
    failing = {d.name: state for d, state in results if d.required and state != UP}
    degraded = {d.name: state for d, state in results if not d.required and state != UP}
    body: dict[str, Any] = {"subgraph": subgraph, "dependencies": states}
    if failing:
        body["status"] = "unavailable"
        body["failing"] = failing
        body["reason"] = "; ".join(f"{name} {state}" for name, state in failing.items())
    else:
        body["status"] = "ready"
    if degraded:
        body["degraded"] = degraded
    return (503 if failing else 200), body


def _probe(check: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        return UP if await check() else UNREACHABLE

    return probe


async def kafka_answers(servers: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """Whether one of the bootstrap brokers accepts a connection."""
    for server in (s.strip() for s in servers.split(",")):
        if not server:
            continue
        host, _, port = server.rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host or server, int(port or 9092)), timeout
            )
        except (OSError, ValueError, TimeoutError):
            continue
        writer.close()
        return True
    return False


async def http_answers(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """Whether ``url`` answers a GET with a 2xx."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return False
    return response.is_success


def _answers(url: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await http_answers(url)

    return check


def health_url(graphql_url: str) -> str:
    """A service's ``/health`` from its GraphQL URL."""
    parts = urlsplit(graphql_url)
    return f"{parts.scheme}://{parts.netloc}/health"


def service_dependencies(
    subgraph: str,
    settings: Settings,
    database_ping: Callable[[], Awaitable[bool]],
    *,
    alone: bool,
    keys_known: Callable[[], bool] | None = None,
    jwks_refresh: Callable[[], Awaitable[bool]] | None = None,
) -> list[Dependency]:
    """What ``subgraph`` depends on under ``settings``. ``alone``: it runs as a service of
    its own (in the embedded mode the other subgraphs and the brokers are in process)."""
    dependencies = [Dependency("database", True, _probe(database_ping))]
    redis_url = settings.redis_url
    if redis_url:
        dependencies.append(Dependency("redis", False, _probe(lambda: redis_answers(redis_url))))
    if not alone:
        return dependencies
    kafka = settings.kafka_bootstrap_servers
    if kafka and subgraph in KAFKA_USERS:
        dependencies.append(Dependency("kafka", False, _probe(lambda: kafka_answers(kafka))))
    qdrant = settings.qdrant_url
    if qdrant and subgraph in QDRANT_USERS:
        ready_url = qdrant.rstrip("/") + "/readyz"
        dependencies.append(Dependency("qdrant", False, _probe(_answers(ready_url))))
    for other in SUBGRAPHS_USED.get(subgraph, ()):
        graphql_url = subgraph_url(other)
        if graphql_url is None:
            continue
        url = health_url(graphql_url)
        dependencies.append(Dependency(f"subgraph:{other}", False, _probe(_answers(url))))
    if subgraph != "identity" and keys_known is not None:
        known = keys_known

        async def jwks() -> str:
            if known():
                return UP
            if jwks_refresh is not None and await jwks_refresh():
                return UP if known() else "no keys published"
            return UNREACHABLE if settings.jwt_jwks_url else "no keys (set JWT_JWKS_URL)"

        dependencies.append(Dependency("jwks", False, jwks))
    return dependencies
