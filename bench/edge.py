"""Rejection cost of hostile operations at the gateway's edge, measured in process.

Three documents: a 50-deep query, a 10,000-alias query and a huge document. Each is sent
as a complete HTTP request straight into the gateway's ASGI app (no network, no HTTP
client: the figures are the gateway's own CPU time per request, from process_time), and,
separately, through the edge's GraphQL stage alone. Every request must be refused; the
goal is well under a millisecond of CPU per refusal.

    python bench/edge.py [--iterations N]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson

from media_gateway.gateway.edge import EdgeConfig, LimitsConfig
from media_gateway.gateway.edge.pipeline import RequestInfo
from media_gateway.gateway.pipeline import GraphQLRequest, Pipeline
from media_gateway.gateway.server import GatewayConfig, create_gateway_app

SUPERGRAPH = """
schema @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet,
  type: String, external: Boolean, override: String, usedOverridden: Boolean)
  repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false,
  resolvable: Boolean! = true, isInterfaceObject: Boolean! = false)
  repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import])
  repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph { A @join__graph(name: "a", url: "http://a.invalid/graphql") }
type Query @join__type(graph: A) { a: Node b: Int }
type Node @join__type(graph: A) { a: Node b: Int }
"""


def deep(levels: int, salt: int) -> str:
    return "{" + " a {" * levels + f" b_{salt}: b" + " }" * levels + " }"


def aliases(n: int, salt: int) -> str:
    return "{" + " ".join(f"x{salt}_{i}: b" for i in range(n)) + "}"


def huge(size: int, salt: int) -> str:
    return "{ b }" + f"#{salt}" + " " * size


class NoClient:
    async def fetch(self, request: Any) -> dict[str, Any]:  # pragma: no cover
        raise AssertionError("a refused request must not reach a subgraph")

    async def aclose(self) -> None:
        return None


async def asgi_request(app: Any, body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"gateway"),
            (b"content-type", b"application/json"),
            (b"accept", b"application/graphql-response+json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5600),
        "server": ("127.0.0.1", 5601),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def bench(iterations: int) -> None:
    limits = LimitsConfig(max_document_bytes=1_000_000, max_body_bytes=2_000_000)
    # default limits: 100 kB documents, 1 MiB bodies
    configs = {"default limits": EdgeConfig(), "1 MB documents allowed": EdgeConfig(limits=limits)}
    cases: list[tuple[str, Callable[[int], str]]] = [
        ("50-deep query", lambda s: deep(50, s)),
        ("10,000-alias query", lambda s: aliases(10_000, s)),
        ("huge document (900 kB)", lambda s: huge(900_000, s)),
        ("huge document (1.5 MB)", lambda s: huge(1_500_000, s)),
        ("huge document (3 MB)", lambda s: huge(3_000_000, s)),
    ]
    print(
        f"{'configuration':24} {'document':24} {'bytes':>9} {'code':28} "
        f"{'HTTP µs':>9} {'edge µs':>9}"
    )
    for label, edge_config in configs.items():
        app = create_gateway_app(
            GatewayConfig(supergraph_sdl=SUPERGRAPH, clients={"a": NoClient()}, edge=edge_config)
        )
        async with app.router.lifespan_context(app):
            state = app.state.gateway
            edge, router = state.edge, state.router
            info = RequestInfo({"content-type": "application/json"}, "127.0.0.1")
            for name, make in cases:
                if label != "default limits" and name.startswith("huge"):
                    continue
                docs = [make(i) for i in range(iterations)]
                bodies = [orjson.dumps({"query": d}) for d in docs]
                status, out = await asgi_request(app, bodies[0])
                code = orjson.loads(out)["errors"][0]["extensions"]["code"]
                assert status >= 400, (name, status, out[:200])
                t0 = time.process_time()
                for b in bodies:
                    await asgi_request(app, b)
                http_us = (time.process_time() - t0) / iterations * 1e6
                edge_us = float("nan")
                if len(bodies[0]) <= 2_000_000:
                    path = Pipeline(lambda router=router: router, edge)
                    t0 = time.process_time()
                    for d in docs:
                        r = await path.handle(
                            GraphQLRequest({"query": d}, info.headers, {}, address=info.address)
                        )
                        assert r.request_error
                    edge_us = (time.process_time() - t0) / iterations * 1e6
                print(
                    f"{label:24} {name:24} {len(bodies[0]):>9} {code:28} "
                    f"{http_us:>9.1f} {edge_us:>9.1f}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(bench(args.iterations))


if __name__ == "__main__":
    main()
