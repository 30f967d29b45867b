"""@defer and @stream through the gateway's HTTP surface: multipart (`deferSpec=20220824`),
SSE and WebSocket, against a real server so that the order and the timing of the payloads
are what a client sees. The library's subgraphs run in-process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
import websockets

from media_gateway.cli import main
from media_gateway.gateway.clients import InProcessClient
from media_gateway.gateway.server import create_app

from .helpers import FIXTURES, supergraph_sdl
from .library import SUBGRAPHS, data

MULTIPART = "multipart/mixed;deferSpec=20220824,application/json"


@dataclass
class Payload:
    at: float  # time.monotonic() when it arrived
    body: dict[str, Any]


class GatewayServer:
    """The gateway under uvicorn in a background thread, on a port the OS chose."""

    def __init__(self) -> None:
        clients = {name: InProcessClient(schema) for name, schema in SUBGRAPHS.items()}
        app = create_app(supergraph_sdl("library"), clients)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
        )
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )

    def __enter__(self) -> GatewayServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "no server"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"


@pytest.fixture(scope="module")
def server() -> Iterator[GatewayServer]:
    with GatewayServer() as running:
        yield running


@pytest.fixture
async def http(server: GatewayServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def _parts(buffer: bytes) -> tuple[list[bytes], bytes, bool]:
    """Complete JSON parts of a `multipart/mixed; boundary="graphql"` body read so far, the
    rest, and whether the closing delimiter has been read."""
    done: list[bytes] = []
    closed = False
    while True:
        start = buffer.find(b"--graphql")
        if start < 0:
            return done, buffer, closed
        if buffer[start:].startswith(b"--graphql--"):
            return done, b"", True
        head_end = buffer.find(b"\r\n\r\n", start)
        if head_end < 0:
            return done, buffer, closed
        nxt = buffer.find(b"\r\n--graphql", head_end)
        body = buffer[head_end + 4 : nxt if nxt >= 0 else len(buffer)]
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return done, buffer, closed
        done.append(body)
        buffer = buffer[nxt:] if nxt >= 0 else b""


async def multipart(
    http: httpx.AsyncClient,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[httpx.Response, list[Payload]]:
    payloads: list[Payload] = []
    request = {"query": query, "variables": variables or {}}
    async with http.stream(
        "POST", url, json=request, headers={"accept": MULTIPART, **(headers or {})}
    ) as response:
        if not response.headers.get("content-type", "").startswith("multipart/mixed"):
            await response.aread()
            return response, [Payload(time.monotonic(), response.json())]
        buffer = b""
        async for chunk in response.aiter_bytes():
            buffer += chunk
            parts, buffer, closed = _parts(buffer)
            now = time.monotonic()
            payloads += [Payload(now, orjson.loads(p)) for p in parts]
            if closed:
                break
    return response, payloads


async def sse(http: httpx.AsyncClient, url: str, query: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    async with http.stream(
        "POST", url, json={"query": query}, headers={"accept": "text/event-stream"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        async for text in response.aiter_text():
            buffer += text
            while "\n\n" in buffer:
                raw, buffer = buffer.split("\n\n", 1)
                fields = dict(line.split(": ", 1) for line in raw.splitlines() if ": " in line)
                if "event" in fields:
                    data_text = fields.get("data")
                    events.append((fields["event"], orjson.loads(data_text) if data_text else None))
    return events


def increments(payloads: list[Payload]) -> list[dict[str, Any]]:
    return [i for p in payloads[1:] for i in p.body.get("incremental", [])]


def span(timeline: list[tuple[str, float, float]], name: str) -> tuple[float, float]:
    return next((start, end) for n, start, end in timeline if n == name)


# ------------------------------------------------------------------ multipart
async def test_initial_payload_then_one_increment_per_object(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    response, payloads = await multipart(
        http, server.url, '{ books { title ... @defer(label: "stock") { stock } } }'
    )
    assert response.status_code == 200
    content_type = response.headers["content-type"].replace(" ", "")
    assert content_type.startswith("multipart/mixed;boundary=") and "deferSpec=20220824" in (
        content_type
    )
    first = payloads[0].body
    assert first["hasNext"] is True
    assert [b["title"] for b in first["data"]["books"]] == [
        "The Quiet Harbor",
        "Paper Moons",
        "Glass Rivers",
        "Salt and Stars",
    ]
    assert "stock" not in first["data"]["books"][0]
    assert "errors" not in first
    got = increments(payloads)
    assert [(i["path"], i.get("label")) for i in got] == [(["books", n], "stock") for n in range(4)]
    assert [i["data"] for i in got[:3]] == [{"stock": 3}, {"stock": 0}, {"stock": 1}]
    assert payloads[-1].body["hasNext"] is False
    assert all(p.body["hasNext"] for p in payloads[:-1])


async def test_deferred_fetches_start_at_once_and_arrive_after_the_initial_payload(
    http: httpx.AsyncClient, server: GatewayServer, library_state: data.State
) -> None:
    query = '{ authorsCount(delayMs: 150) ... @defer(label: "later") { booksCount(delayMs: 500) } }'
    _, payloads = await multipart(http, server.url, query)
    assert payloads[0].body == {"data": {"authorsCount": 3}, "hasNext": True}
    assert increments(payloads) == [{"data": {"booksCount": 4}, "path": [], "label": "later"}]
    authors = span(library_state.timeline, "authorsCount")
    books = span(library_state.timeline, "booksCount")
    # the deferred fetch started beside the initial one, not after the initial payload
    assert books[0] < authors[1]
    # the initial payload did not wait for the deferred fetch
    assert payloads[0].at < books[1] <= payloads[1].at


async def test_increments_are_delivered_as_they_complete(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    query = """{
      books { title }
      ... @defer(label: "slow") { booksCount(delayMs: 400) }
      ... @defer(label: "fast") { authorsCount(delayMs: 50) }
    }"""
    _, payloads = await multipart(http, server.url, query)
    assert len(payloads) == 3
    assert [p.body["incremental"][0]["label"] for p in payloads[1:]] == ["fast", "slow"]
    assert payloads[1].body["incremental"][0]["data"] == {"authorsCount": 3}
    assert payloads[2].body["incremental"][0]["data"] == {"booksCount": 4}
    assert [p.body["hasNext"] for p in payloads] == [True, True, False]


async def test_nested_deferred_fragments_follow_their_parent(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    query = """{ books { title ... @defer(label: "author") {
        author { name ... @defer(label: "born") { born } } } } }"""
    _, payloads = await multipart(http, server.url, query)
    got = increments(payloads)
    labels = [i["label"] for i in got]
    assert labels == ["author"] * 4 + ["born"] * 4
    assert [i["path"] for i in got[4:]] == [["books", n, "author"] for n in range(4)]
    assert got[0]["data"] == {"author": {"name": "Ada Quill"}}
    assert [i["data"]["born"] for i in got[4:]] == [1950, 1962, 1950, 1978]


async def test_an_error_nulls_only_its_increment(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    """isbn-4 has no inventory record: its non-null `stock` is null, which nulls that
    book's increment (not the book, not the initial response), with the error beside it."""
    _, payloads = await multipart(
        http, server.url, '{ books { title ... @defer(label: "stock") { stock } } }'
    )
    assert "errors" not in payloads[0].body
    assert payloads[0].body["data"]["books"][3] == {"title": "Salt and Stars"}
    got = {tuple(i["path"]): i for i in increments(payloads)}
    failed = got[("books", 3)]
    assert failed["data"] is None
    assert [e["path"] for e in failed["errors"]] == [["books", 3]]
    assert failed["errors"][0]["extensions"]["serviceName"] == "inventory"
    assert all("errors" not in got[("books", n)] for n in range(3))


async def test_a_field_error_goes_with_its_increment(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    query = '{ latestReviews { id ... @defer(label: "note") { moderatorNote } } }'
    _, payloads = await multipart(http, server.url, query)
    assert "errors" not in payloads[0].body
    got = increments(payloads)
    assert [i["data"] for i in got] == [{"moderatorNote": None}] * 4
    assert [e["path"] for e in got[1]["errors"]] == [["latestReviews", 1, "moderatorNote"]]
    assert all("errors" not in i for n, i in enumerate(got) if n != 1)


async def test_defer_if_false_is_inlined(http: httpx.AsyncClient, server: GatewayServer) -> None:
    query = "query ($d: Boolean!) { books { title ... @defer(if: $d) { reviewCount } } }"
    plain = await http.post(
        server.url,
        json={"query": query, "variables": {"d": False}},
        headers={"accept": "application/json"},
    )
    assert plain.status_code == 200
    assert plain.json()["data"]["books"][0] == {"title": "The Quiet Harbor", "reviewCount": 2}
    literal = await http.post(
        server.url,
        json={"query": "{ books { title ... @defer(if: false) { reviewCount } } }"},
        headers={"accept": MULTIPART},
    )
    assert literal.headers["content-type"].startswith("application/json")
    assert literal.json()["data"]["books"][1] == {"title": "Paper Moons", "reviewCount": 1}
    _, payloads = await multipart(http, server.url, query, {"d": True})
    assert payloads[0].body["data"]["books"][0] == {"title": "The Quiet Harbor"}
    assert increments(payloads)[0]["data"] == {"reviewCount": 2}


async def test_an_omitted_defer_condition_takes_the_default_and_defers(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    """`if: Boolean! = true`: a nullable variable left out means the argument's default."""
    query = "query ($d: Boolean) { books { title ... @defer(if: $d) { reviewCount } } }"
    _, payloads = await multipart(http, server.url, query)
    assert payloads[0].body["data"]["books"][0] == {"title": "The Quiet Harbor"}
    assert increments(payloads)[0]["data"] == {"reviewCount": 2}


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_a_client_that_cannot_take_increments_is_told_so(
    http: httpx.AsyncClient, server: GatewayServer, accept: str
) -> None:
    response = await http.post(
        server.url,
        json={"query": "{ books { title ... @defer { stock } } }"},
        headers={"accept": accept},
    )
    assert response.status_code == 406
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "DEFER_BAD_HEADER"
    assert "multipart/mixed" in error["message"]


async def test_a_deferring_operation_of_a_batch_is_refused_alone(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    response = await http.post(
        server.url,
        json=[{"query": "{ books { title ... @defer { stock } } }"}, {"query": "{ authorsCount }"}],
        headers={"accept": MULTIPART},
    )
    assert response.status_code == 200
    deferring, plain = response.json()
    assert deferring["errors"][0]["extensions"]["code"] == "DEFER_BAD_HEADER"
    assert plain == {"data": {"authorsCount": 3}}


async def test_a_get_request_is_delivered_incrementally(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    query = '{ books { title ... @defer(label: "n") { reviewCount } } }'
    response = await http.get(server.url, params={"query": query}, headers={"accept": MULTIPART})
    assert response.headers["content-type"].startswith("multipart/mixed")
    bodies = [orjson.loads(p) for p in _parts(response.content)[0]]
    assert bodies[0]["hasNext"] is True
    assert [i["data"] for i in bodies[1]["incremental"]] == [
        {"reviewCount": n} for n in (2, 1, 1, 0)
    ]


async def test_stream_delivers_the_items_after_initial_count(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    _, payloads = await multipart(
        http, server.url, '{ books @stream(initialCount: 1, label: "more") { title } }'
    )
    assert payloads[0].body == {
        "data": {"books": [{"title": "The Quiet Harbor"}]},
        "hasNext": True,
    }
    assert increments(payloads) == [
        {
            "items": [
                {"title": "Paper Moons"},
                {"title": "Glass Rivers"},
                {"title": "Salt and Stars"},
            ],
            "path": ["books", 1],
            "label": "more",
        }
    ]
    assert payloads[-1].body["hasNext"] is False


async def test_stream_if_false_answers_at_once(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    response = await http.post(
        server.url,
        json={"query": "{ books @stream(if: false, initialCount: 1) { title } }"},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 200
    assert len(response.json()["data"]["books"]) == 4


async def test_the_plan_marks_deferred_fetches(
    http: httpx.AsyncClient, server: GatewayServer, capsys: pytest.CaptureFixture[str]
) -> None:
    query = '{ books { title ... @defer(label: "stock") { stock } } }'
    _, payloads = await multipart(http, server.url, query, headers={"x-expose-query-plan": "1"})
    fetches = payloads[0].body["extensions"]["queryPlan"]["fetches"]
    assert [f.get("deferred") for f in fetches] == [None, {"label": "stock"}]
    assert fetches[1]["dependsOn"] == [0]
    code = main(["plan", "--supergraph", str(FIXTURES / "library.graphql"), query])
    out = capsys.readouterr().out
    assert code == 0
    assert 'path "books" after [0] deferred "stock"' in out


async def test_introspection_shows_the_directives(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    response = await http.post(
        server.url,
        json={"query": "{ __schema { directives { name args { name } } } }"},
        headers={"accept": "application/json"},
    )
    directives = {d["name"]: d for d in response.json()["data"]["__schema"]["directives"]}
    assert {a["name"] for a in directives["defer"]["args"]} == {"label", "if"}
    assert {a["name"] for a in directives["stream"]["args"]} == {"label", "if", "initialCount"}


# ------------------------------------------------------------------ SSE and WebSocket
async def test_sse_sends_each_payload_as_a_next_event(
    http: httpx.AsyncClient, server: GatewayServer
) -> None:
    events = await sse(http, server.url, '{ books { title ... @defer(label: "s") { stock } } }')
    assert [kind for kind, _ in events][-1] == "complete"
    bodies = [body for kind, body in events if kind == "next"]
    assert bodies[0]["hasNext"] is True and "stock" not in bodies[0]["data"]["books"][0]
    got = [i for b in bodies[1:] for i in b["incremental"]]
    assert [i["path"] for i in got] == [["books", n] for n in range(4)]
    assert bodies[-1]["hasNext"] is False


async def test_websocket_sends_each_payload_as_a_next_message(server: GatewayServer) -> None:
    url = server.url.replace("http://", "ws://")
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init"}).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        query = '{ books { title ... @defer(label: "s") { stock } } }'
        await ws.send(
            orjson.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}).decode()
        )
        messages = []
        while True:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            messages.append(message)
            if message["type"] in ("complete", "error"):
                break
    assert [m["type"] for m in messages][-1] == "complete"
    bodies = [m["payload"] for m in messages if m["type"] == "next"]
    assert bodies[0]["hasNext"] is True
    assert [i["data"] for b in bodies[1:] for i in b["incremental"]][:2] == [
        {"stock": 3},
        {"stock": 0},
    ]
    assert bodies[-1]["hasNext"] is False
