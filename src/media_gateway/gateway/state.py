"""The gateway's configuration and state: the current router, swapped when the supergraph
file changes, and the request path (`pipeline.Pipeline`) in front of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .authorization import Authenticator
from .budget import CpuBudget
from .clients import HttpPool, HttpSubgraphClient, SubgraphClient
from .edge.config import EdgeConfig
from .edge.pipeline import Edge
from .forwarding import Forward
from .pipeline import Pipeline
from .router import Router
from .supergraph import Supergraph, SupergraphError

log = logging.getLogger("media_gateway.gateway")


@dataclass
class GatewayConfig:
    supergraph_path: Path | None = None
    supergraph_sdl: str | None = None
    clients: Mapping[str, SubgraphClient] | None = None
    subgraph_urls: Mapping[str, str] = field(default_factory=dict)
    subgraph_timeout: float = 30.0
    override_labels: tuple[str, ...] = ()
    graphiql: bool = True
    # the operations GraphiQL shows on a first visit (None: a query any schema answers)
    graphiql_query: str | None = None
    watch_interval: float = 1.0
    # what each edge stage does (limits, APQ, CSRF, rate limits, resilience, telemetry):
    # every stage is always in the request path; `EdgeConfig.off()` turns each one off
    edge: EdgeConfig = field(default_factory=EdgeConfig.off)
    # who is calling, for @authenticated / @requiresScopes; None: not enforced here
    authenticator: Authenticator | None = None
    tracer_provider: Any = None
    # paths handed on to an upstream service unchanged (GATEWAY_FORWARD; see forwarding.py)
    forwards: tuple[Forward, ...] = ()


class GatewayState:
    """Holds the current router; a new supergraph swaps it atomically."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.router: Router | None = None
        self._mtime: float | None = None
        self._http = HttpPool()
        self._watch_task: asyncio.Task[None] | None = None
        # one worker beside the event loop for new documents, shared by successive routers
        self.budget = CpuBudget(config.edge.limits.cpu_budget_seconds)
        self.edge = Edge(config.edge, tracer_provider=config.tracer_provider)
        self.pipeline = Pipeline(lambda: self.router, self.edge, self.edge.telemetry)

    def _clients_for(self, supergraph: Supergraph) -> dict[str, SubgraphClient]:
        if self.config.clients is not None:
            return dict(self.config.clients)
        clients: dict[str, SubgraphClient] = {}
        for name, url in supergraph.subgraph_urls.items():
            url = self.config.subgraph_urls.get(name) or subgraph_url(name, url)
            clients[name] = HttpSubgraphClient(
                url, timeout=self.config.subgraph_timeout, pool=self._http
            )
        return clients

    def load(self, sdl: str) -> None:
        supergraph = Supergraph(sdl)
        self.router = Router(
            supergraph,
            self.edge.wrap_clients(self._clients_for(supergraph)),
            override_labels=self.config.override_labels,
            authenticator=self.config.authenticator,
            budget=self.budget,
        )

    def load_initial(self) -> None:
        if self.config.supergraph_sdl is not None:
            self.load(self.config.supergraph_sdl)
        elif self.config.supergraph_path is not None:
            self._mtime = self.config.supergraph_path.stat().st_mtime
            self.load(self.config.supergraph_path.read_text())

    async def watch(self) -> None:
        path = self.config.supergraph_path
        if path is None:
            return
        while True:
            await asyncio.sleep(self.config.watch_interval)
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            if mtime == self._mtime:
                continue
            self._mtime = mtime
            try:
                self.load(path.read_text())
                log.info("supergraph reloaded", extra={"supergraph": str(path)})
            except (SupergraphError, OSError) as exc:
                log.error("supergraph reload failed; keeping the previous one: %s", exc)

    async def start(self) -> None:
        if self.router is None:
            self.load_initial()
        if self.config.supergraph_path is not None:
            self._watch_task = asyncio.create_task(self.watch())

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
        if self.router is not None and self.config.clients is not None:
            await self.router.aclose()
        await self.edge.aclose()
        await self._http.aclose()
        self.budget.close()


def subgraph_url(name: str, url: str) -> str:
    """Where a subgraph is reached: `SUBGRAPH_URL_<NAME>` when set, else its supergraph URL."""
    return os.environ.get("SUBGRAPH_URL_" + name.upper().replace("-", "_")) or url


def readiness(state: GatewayState) -> tuple[int, dict[str, Any]]:
    """(status code, body) of `/ready`. Not ready (503) only while no supergraph is loaded: a
    subgraph whose circuit breaker is open is listed under `degraded`, and the gateway stays
    ready since it still answers every field the other subgraphs resolve."""
    router = state.router
    if router is None:
        return 503, {
            "status": "unavailable",
            "dependencies": {"supergraph": "not loaded"},
            "failing": {"supergraph": "not loaded"},
            "reason": "no supergraph loaded",
        }
    breakers = state.edge.breakers
    subgraphs: dict[str, str] = {}
    degraded: dict[str, str] = {}
    for name in sorted(router.supergraph.subgraph_urls):
        breaker = breakers.get(name)
        subgraphs[name] = breaker.state if breaker is not None else "unmonitored"
        if breaker is not None and subgraphs[name] != "closed":
            degraded[name] = f"circuit breaker {subgraphs[name]}"
    body: dict[str, Any] = {
        "status": "ready",
        "dependencies": {"supergraph": "loaded", "subgraphs": subgraphs},
    }
    if degraded:
        body["degraded"] = degraded
    return 200, body
