"""Subgraph clients: how the gateway sends one operation to one subgraph.

`HttpSubgraphClient` speaks GraphQL over HTTP with a pooled keep-alive connection;
`InProcessClient` executes a schema object directly (the embedded mode: no HTTP hop and no
JSON round trip).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson


@dataclass
class SubgraphRequest:
    query: str
    variables: dict[str, Any] = field(default_factory=dict)
    operation_name: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # the JSON body, serialised once and shared by whoever needs it (the de-duplication key,
    # the HTTP client); set by `payload()`
    body: bytes | None = field(default=None, repr=False, compare=False)

    def payload(self) -> bytes:
        """The GraphQL-over-HTTP request body, serialised on first use."""
        if self.body is None:
            doc: dict[str, Any] = {"query": self.query}
            if self.variables:
                doc["variables"] = self.variables
            if self.operation_name:
                doc["operationName"] = self.operation_name
            self.body = orjson.dumps(doc)
        return self.body


class SubgraphFetchError(Exception):
    """The subgraph could not be reached or answered with something that is not GraphQL."""

    def __init__(self, message: str, code: str = "SUBGRAPH_FETCH_FAILED") -> None:
        super().__init__(message)
        self.code = code


class SubgraphClient(Protocol):
    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class HttpPool:
    """Keep-alive connections shared by the HTTP subgraph clients of one gateway.

    The aiohttp session is created on first use, inside the event loop that serves requests.
    """

    def __init__(self, *, connections_per_host: int = 128, keepalive_seconds: float = 30.0) -> None:
        self.connections_per_host = connections_per_host
        self.keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,
                limit_per_host=self.connections_per_host,
                keepalive_timeout=self.keepalive_seconds,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class HttpSubgraphClient:
    """GraphQL over HTTP to one subgraph, on a shared keep-alive connection pool."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        pool: HttpPool | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._owned = pool is None
        self._pool = pool or HttpPool()
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        headers = {
            "content-type": "application/json",
            "accept": "application/graphql-response+json, application/json",
            **request.headers,
        }
        try:
            async with self._pool.session().post(
                self.url, data=request.payload(), headers=headers, timeout=self._timeout
            ) as response:
                status = response.status
                content = await response.read()
        except TimeoutError as exc:
            raise SubgraphFetchError(
                f"timed out after {self.timeout:g}s", "SUBGRAPH_TIMEOUT"
            ) from exc
        except aiohttp.ClientError as exc:
            raise SubgraphFetchError(f"could not be reached: {exc.__class__.__name__}") from exc
        try:
            result = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise SubgraphFetchError(
                f"answered HTTP {status} with a body that is not JSON"
            ) from exc
        if not isinstance(result, dict) or ("data" not in result and "errors" not in result):
            raise SubgraphFetchError(f"answered HTTP {status} without a GraphQL response")
        return result

    async def aclose(self) -> None:
        if self._owned:
            await self._pool.aclose()


ContextFactory = Callable[[Mapping[str, str]], Awaitable[Any]]


class InProcessClient:
    """Executes operations on a schema in this process.

    `schema` is any object with an async `execute(query, variable_values=..., context_value=...,
    operation_name=...)` returning a result with `data` and `errors` (Strawberry's schema).
    """

    def __init__(
        self, schema: Any, context_factory: ContextFactory | None = None, *, timeout: float = 30.0
    ) -> None:
        self.schema = schema
        self.context_factory = context_factory
        self.timeout = timeout

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        context = (
            await self.context_factory(request.headers)
            if self.context_factory is not None
            else None
        )
        try:
            result = await asyncio.wait_for(
                self.schema.execute(
                    request.query,
                    variable_values=request.variables or None,
                    context_value=context,
                    operation_name=request.operation_name,
                ),
                self.timeout,
            )
        except TimeoutError as exc:
            raise SubgraphFetchError(
                f"timed out after {self.timeout:g}s", "SUBGRAPH_TIMEOUT"
            ) from exc
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        return out

    async def aclose(self) -> None:
        return None
