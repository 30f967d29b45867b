"""Subgraph clients: how the gateway sends one operation to one subgraph.

`HttpSubgraphClient` speaks GraphQL over HTTP/1.1 with pooled keep-alive connections (asyncio
and httptools: the request body is the one `SubgraphRequest.payload()` serialised once);
`InProcessClient` executes a schema object directly (the embedded mode: no HTTP hop and no
JSON round trip).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httptools
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


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection to a subgraph: one request at a time, the response
    parsed by httptools as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.chunks: list[bytes] = []
        self.closed = False
        self.idle_since = 0.0
        # the current response: whether its head has arrived, and whether its length is
        # known (else its body ends with the connection)
        self.started = False
        self.delimited = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(SubgraphFetchError(f"answered with a malformed HTTP response ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if self.started and not self.delimited:  # a body that ends with the connection
            waiter.set_result((self.parser.get_status_code(), b"".join(self.chunks)))
        else:
            waiter.set_exception(_ConnectionClosed(self.started))

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.delimited = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        waiter, self.waiter = self.waiter, None
        body = b"".join(self.chunks)
        self.chunks = []
        if not self.parser.should_keep_alive():
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), body))

    def _fail(self, error: Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def send(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.chunks = []
        self.started = self.delimited = False
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _ConnectionClosed(SubgraphFetchError):
    def __init__(self, answered: bool) -> None:
        super().__init__("could not be reached: connection closed")
        # whether any of a response arrived (else the request may not have been read)
        self.answered = answered


# headers the client sets itself, and hop-by-hop headers that never go to a subgraph
_OWN_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "proxy-authorization",
        "proxy-authenticate",
        "expect",
    }
)


_SEPARATORS = frozenset(' \t\r\n:()<>@,;\\"/[]?={}')
# header name -> its bytes and ": ", or b"" for a name that is not a valid token
_NAMES: dict[str, bytes] = {}


def _header_line(name: str, value: str) -> bytes:
    """`name: value\r\n`, or nothing for a header that cannot be sent as it is (a line
    break or an invalid name would let it forge other headers)."""
    prefix = _NAMES.get(name)
    if prefix is None:
        valid = name.isascii() and name.isprintable() and _SEPARATORS.isdisjoint(name)
        valid = valid and bool(name)
        prefix = name.encode("ascii") + b": " if valid else b""
        if len(_NAMES) < 1000:
            _NAMES[name] = prefix
    if not prefix or "\r" in value or "\n" in value or "\x00" in value:
        return b""
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError:
        encoded = value.encode()
    return prefix + encoded + b"\r\n"


class _Origin:
    """The idle connections to one host and port, and a limit on open ones."""

    def __init__(self, host: str, port: int, tls: bool, limit: int) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.idle: deque[_Connection] = deque()
        self.slots = asyncio.Semaphore(limit)


class HttpPool:
    """Keep-alive HTTP/1.1 connections shared by the HTTP subgraph clients of one gateway,
    on asyncio and httptools (a request costs a fraction of a general-purpose client's).

    Connections are made on first use, inside the event loop that serves requests; an idle
    connection is reused for `keepalive_seconds` at most.
    """

    def __init__(self, *, connections_per_host: int = 128, keepalive_seconds: float = 30.0) -> None:
        self.connections_per_host = connections_per_host
        self.keepalive_seconds = keepalive_seconds
        self._origins: dict[tuple[str, int, bool], _Origin] = {}
        self._ssl: ssl.SSLContext | None = None

    def _origin(self, host: str, port: int, tls: bool) -> _Origin:
        key = (host, port, tls)
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(host, port, tls, self.connections_per_host)
        return origin

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        context: ssl.SSLContext | None = None
        if origin.tls:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        _transport, conn = await loop.create_connection(
            _Connection,
            origin.host,
            origin.port,
            ssl=context,
            server_hostname=origin.host if context is not None else None,
        )
        return conn

    async def post(
        self, host: str, port: int, tls: bool, data: bytes, *, resend: bool = False
    ) -> tuple[int, bytes]:
        """Send one request (`data`: request line, headers and body) and read its response.
        `resend`: the request may be sent again on a new connection when a reused one turns
        out to have been closed by the server before any of the response came (a race of
        keep-alive; only for requests that can safely run twice)."""
        origin = self._origin(host, port, tls)
        async with origin.slots:
            while True:
                conn: _Connection | None = None
                now = time.monotonic()
                while origin.idle:
                    candidate = origin.idle.pop()
                    if candidate.closed or now - candidate.idle_since > self.keepalive_seconds:
                        candidate.close()
                        continue
                    conn = candidate
                    break
                reused = conn is not None
                if conn is None:
                    conn = await self._connect(origin)
                done = False
                try:
                    result = await conn.send(data)
                    done = True
                    return result
                except _ConnectionClosed as exc:
                    if not (reused and resend and not exc.answered):
                        raise
                    resend = False  # once
                finally:
                    if done and not conn.closed:
                        conn.idle_since = time.monotonic()
                        origin.idle.append(conn)
                    else:  # failed, timed out or cancelled mid-request: never reused
                        conn.close()

    async def aclose(self) -> None:
        for origin in self._origins.values():
            while origin.idle:
                origin.idle.pop().close()
        self._origins.clear()


def _idempotent(query: str) -> bool:
    head = query.lstrip()
    return head.startswith("{") or head.startswith("query")


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
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self._tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = f"[{self._host}]" if ":" in self._host else self._host
        if parts.port is not None:
            host += f":{parts.port}"
        self._head = (
            f"POST {target} HTTP/1.1\r\nhost: {host}\r\n"
            "content-type: application/json\r\n"
            "accept: application/graphql-response+json, application/json\r\n"
        ).encode("latin-1")

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        body = request.payload()
        lines = [self._head]
        for name, value in request.headers.items():
            if name.lower() not in _OWN_HEADERS:
                lines.append(_header_line(name, value))
        lines.append(b"content-length: %d\r\n\r\n" % len(body))
        try:
            async with asyncio.timeout(self.timeout):
                status, content = await self._pool.post(
                    self._host,
                    self._port,
                    self._tls,
                    b"".join(lines) + body,
                    resend=_idempotent(request.query),
                )
        except TimeoutError as exc:
            raise SubgraphFetchError(
                f"timed out after {self.timeout:g}s", "SUBGRAPH_TIMEOUT"
            ) from exc
        except OSError as exc:
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
            async with asyncio.timeout(self.timeout):
                result = await self.schema.execute(
                    request.query,
                    variable_values=request.variables or None,
                    context_value=context,
                    operation_name=request.operation_name,
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
