"""Helpers for the gateway tests: subgraph clients over both transports, a small client for
the gateway's HTTP app, and text snapshots.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from media_gateway.gateway.clients import (
    HttpPool,
    HttpSubgraphClient,
    InProcessClient,
    SubgraphClient,
)

from .library import SUBGRAPHS

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SNAPSHOTS = HERE / "snapshots"
UPDATE_ENV = "MEDIA_GATEWAY_UPDATE_SNAPSHOTS"

TRANSPORTS = ("in-process", "http")


def updating() -> bool:
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def check_text(path: Path, actual: str) -> None:
    """Compare `actual` with the committed file; rewrite it when snapshots are updated."""
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    assert path.exists(), f"{path.name} is missing; run with {UPDATE_ENV}=1 to write it"
    assert actual == path.read_text(), (
        f"{path.name} differs from the committed snapshot; run with {UPDATE_ENV}=1 to update"
    )


def assert_snapshot(name: str, actual: str) -> None:
    check_text(SNAPSHOTS / name, actual if actual.endswith("\n") else actual + "\n")


def supergraph_sdl(name: str) -> str:
    """A committed supergraph fixture (composed from the library's subgraphs)."""
    return (FIXTURES / f"{name}.graphql").read_text()


class FailingSchema:
    """An in-process "subgraph" whose every execution raises (a crashed service)."""

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the subgraph crashed")


@dataclass
class Endpoints:
    """Where the HTTP subgraphs listen (see conftest.subgraph_server)."""

    base: str
    refused: str

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


class Subgraphs:
    """Creates subgraph clients for one transport and closes them afterwards."""

    def __init__(self, transport: str, endpoints: Endpoints | None) -> None:
        self.transport = transport
        self.endpoints = endpoints
        self._pool: HttpPool | None = None

    def _http(self, url: str, timeout: float) -> SubgraphClient:
        # one pool for all subgraph clients of a test (plain HTTP: no TLS context to build)
        if self._pool is None:
            self._pool = HttpPool()
        return HttpSubgraphClient(url, timeout=timeout, pool=self._pool)

    def client(self, name: str, *, timeout: float = 10.0) -> SubgraphClient:
        if self.transport == "in-process":
            return InProcessClient(SUBGRAPHS[name], timeout=timeout)
        assert self.endpoints is not None
        return self._http(self.endpoints.url(name), timeout)

    def failing(self, mode: str = "crash") -> SubgraphClient:
        """A subgraph that fails: "crash" in-process; over HTTP "500", "garbage" (a body that
        is not JSON), "not-graphql" (JSON without data or errors) or "refused"."""
        if self.transport == "in-process":
            return InProcessClient(FailingSchema())
        assert self.endpoints is not None
        if mode == "refused":
            return self._http(self.endpoints.refused, 10.0)
        return self._http(self.endpoints.url(f"broken/{mode}"), 10.0)

    def clients(
        self, *, timeout: float = 10.0, replace: Mapping[str, SubgraphClient] | None = None
    ) -> dict[str, SubgraphClient]:
        out = {name: self.client(name, timeout=timeout) for name in SUBGRAPHS}
        out.update(replace or {})
        return out

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


@dataclass
class Result:
    status: int
    body: Any
    headers: httpx.Headers

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list(self.body.get("errors") or [])

    @property
    def extensions(self) -> dict[str, Any]:
        return dict(self.body.get("extensions") or {})

    @property
    def fetches(self) -> int:
        return int(self.extensions["fetches"])

    @property
    def representations(self) -> int:
        return int(self.extensions["representations"])

    @property
    def plan(self) -> str:
        return str(self.extensions["queryPlanText"])

    def services(self) -> list[str]:
        return [f["service"] for f in self.extensions["queryPlan"]["fetches"]]

    def error_paths(self) -> list[list[str | int] | None]:
        return [e.get("path") for e in self.errors]


class Gateway:
    """Talks to the gateway's ASGI app over HTTP (in memory, through httpx)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        )

    async def post(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        operation_name: str | None = None,
        *,
        plan: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Result:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        if operation_name is not None:
            payload["operationName"] = operation_name
        h = {"accept": "application/json", **(headers or {})}
        if plan:
            h["x-expose-query-plan"] = "true"
        r = await self.http.post("/graphql", json=payload, headers=h)
        return Result(r.status_code, r.json(), r.headers)

    async def data(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """The data of a request that must succeed without errors."""
        result = await self.post(query, variables)
        assert result.status == 200, result.body
        assert not result.errors, result.errors
        return result.data

    async def aclose(self) -> None:
        await self.http.aclose()
