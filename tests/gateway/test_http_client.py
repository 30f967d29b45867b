"""The HTTP subgraph client against a raw server: keep-alive, every way a response can be
delimited, closed and stale connections, time-outs, and headers that cannot be forwarded."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import orjson
import pytest

from media_gateway.gateway.clients import (
    HttpPool,
    HttpSubgraphClient,
    SubgraphFetchError,
    SubgraphRequest,
)

OK = orjson.dumps({"data": {"ok": True}})

Responder = Callable[[bytes], bytes | None]


class RawServer:
    """Answers each request on a connection with what `respond` returns for its head (None:
    close the connection without answering)."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.connections = 0
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                self.heads.append(head)
                answer = self.respond(head)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/graphql?x=1"


def length_response(body: bytes = OK, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Responder], asyncio.Future[RawServer]]]:
    servers: list[RawServer] = []

    async def start(respond: Responder) -> RawServer:
        raw = RawServer(respond)
        raw.server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append(raw)
        return raw

    yield start  # type: ignore[misc]
    for raw in servers:
        assert raw.server is not None
        raw.server.close()


async def test_keep_alive_and_the_request_sent(serve) -> None:  # type: ignore[no-untyped-def]
    raw = await serve(lambda head: length_response())
    client = HttpSubgraphClient(raw.url, timeout=5)
    request = SubgraphRequest("{ ok }", {"a": 1}, None, {"x-request-id": "r1", "Host": "evil"})
    for _ in range(3):
        assert await client.fetch(request) == {"data": {"ok": True}}
    assert raw.connections == 1  # one connection, kept alive
    head = raw.heads[0].decode()
    assert head.startswith("POST /graphql?x=1 HTTP/1.1\r\n")
    assert "x-request-id: r1\r\n" in head
    assert "evil" not in head  # the client sets its own host
    assert f"content-length: {len(request.payload())}\r\n" in head
    await client.aclose()


async def test_chunked_close_delimited_and_connection_close(serve) -> None:  # type: ignore[no-untyped-def]
    answers = [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n"
        + OK[:5]
        + b"\r\n%x\r\n" % (len(OK) - 5)
        + OK[5:]
        + b"\r\n0\r\n\r\n",
        length_response(extra=b"connection: close\r\n"),
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + OK,
    ]
    raw = await serve(lambda head: answers[len(raw.heads) - 1])
    client = HttpSubgraphClient(raw.url, timeout=5)
    for _ in range(3):
        assert await client.fetch(SubgraphRequest("{ ok }")) == {"data": {"ok": True}}
    assert raw.connections == 2  # a new connection after the server closed one
    await client.aclose()


async def test_a_stale_connection_is_replaced_for_a_query_only(serve) -> None:  # type: ignore[no-untyped-def]
    # the second request on each connection finds it closed by the server
    raw = await serve(lambda head: length_response() if len(raw.heads) % 2 else None)
    client = HttpSubgraphClient(raw.url, timeout=5)
    assert await client.fetch(SubgraphRequest("{ ok }")) == {"data": {"ok": True}}
    assert await client.fetch(SubgraphRequest("query { ok }")) == {"data": {"ok": True}}
    assert raw.connections == 2
    raw.heads.clear()
    await client.fetch(SubgraphRequest("{ ok }"))  # a fresh connection
    with pytest.raises(SubgraphFetchError, match="could not be reached"):
        await client.fetch(SubgraphRequest("mutation { ok }"))  # never sent twice
    await client.aclose()


async def test_time_out_refused_and_not_json(serve) -> None:  # type: ignore[no-untyped-def]
    never = await serve(lambda head: b"")
    client = HttpSubgraphClient(never.url, timeout=0.2)
    with pytest.raises(SubgraphFetchError) as timed_out:
        await client.fetch(SubgraphRequest("{ ok }"))
    assert timed_out.value.code == "SUBGRAPH_TIMEOUT"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = HttpSubgraphClient(f"http://127.0.0.1:{port}/graphql", timeout=2)
    with pytest.raises(SubgraphFetchError, match="could not be reached: ConnectionRefusedError"):
        await refused.fetch(SubgraphRequest("{ ok }"))

    html = await serve(lambda head: length_response(b"<html>oops</html>"))
    with pytest.raises(SubgraphFetchError, match="answered HTTP 200 with a body that is not JSON"):
        await HttpSubgraphClient(html.url, timeout=2).fetch(SubgraphRequest("{ ok }"))


async def test_headers_that_would_forge_others_are_not_sent(serve) -> None:  # type: ignore[no-untyped-def]
    raw = await serve(lambda head: length_response())
    pool = HttpPool()
    client = HttpSubgraphClient(raw.url, timeout=5, pool=pool)
    await client.fetch(
        SubgraphRequest(
            "{ ok }",
            headers={
                "x-ok": "fine",
                "x-bad": "a\r\nx-injected: 1",
                "bad name": "v",
                "x-latin": "caf\u00e9",
            },
        )
    )
    head = raw.heads[0]
    assert b"x-ok: fine\r\n" in head
    assert b"x-injected" not in head and b"bad name" not in head
    assert b"x-latin: caf\xe9\r\n" in head
    await pool.aclose()
