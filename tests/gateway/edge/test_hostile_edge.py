"""The edge under hostile input, with its limits set in code: budgets for CPU, one deadline
per request toward hung subgraphs, batches counted together, the production profile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from media_gateway.gateway.clients import HttpSubgraphClient
from media_gateway.gateway.edge import EdgeConfig, LimitsConfig
from media_gateway.gateway.edge.config import PRODUCTION_LIMITS, graphiql_enabled

from . import shop
from .conftest import GatewayFactory, shop_clients


def codes(body: Any) -> list[str]:
    return [str(e["extensions"]["code"]) for e in body.get("errors", [])]


# ------------------------------------------------------------------------------- budgets
async def test_a_new_document_over_the_cpu_budget_is_refused_then_served_once_ready(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(EdgeConfig(limits=LimitsConfig(cpu_budget_seconds=0.0)))
    query = "{ " + " ".join(f"p{i}: products {{ name id }}" for i in range(40)) + " }"
    body = (await gw.query(query)).json()
    assert codes(body) == ["OPERATION_TOO_COMPLEX"], body
    assert "budget" in body["errors"][0]["message"]
    assert shop.CALLS == {"products": 0, "reviews": 0}
    # the validation that was started finished beside the loop and was kept: asked again,
    # the document costs nothing to validate (its planning may still be refused, once)
    for _ in range(500):  # the worker finishes in well under a second unless very busy
        body = (await gw.query(query)).json()
        if "data" in body:
            break
        assert codes(body) == ["OPERATION_TOO_COMPLEX"], body
        await asyncio.sleep(0.02)
    assert body["data"]["p0"][0]["name"] == "Product 1"


async def test_a_document_too_costly_to_validate_gets_a_precise_code(
    gateway: Any,
) -> None:
    # thousands of identical fields: graphql-core stops comparing them and so does the router
    query = "{ " + "__typename " * 4000 + "}"
    body = (await gateway.query(query)).json()
    assert codes(body) == ["OPERATION_TOO_COMPLEX"], body


# ----------------------------------------------------------------------------- deadlines
class HungSubgraph:
    """A subgraph that reads requests and never answers (like a paused process)."""

    def __init__(self) -> None:
        self.requests = 0
        self.connections: list[asyncio.StreamWriter] = []

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):  # one request's headers
                self.requests += 1


@contextlib.asynccontextmanager
async def hung_subgraph() -> AsyncIterator[tuple[str, HungSubgraph]]:
    hung = HungSubgraph()
    server = await asyncio.start_server(hung.accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/graphql", hung
    finally:
        for writer in hung.connections:
            writer.close()
        server.close()


async def test_a_hung_subgraph_costs_a_request_at_most_its_deadline(
    make_gateway: GatewayFactory,
) -> None:
    async with hung_subgraph() as (url, hung):
        clients = shop_clients()
        client = HttpSubgraphClient(url, timeout=30)
        gw = await make_gateway(
            EdgeConfig(
                request_timeout=0.3,
                subgraph_timeout=10,
                retries=2,
                breaker_failure_threshold=3,
                breaker_reset_seconds=60,
            ),
            {**clients, "reviews": client},
        )
        body = (await gw.query("{ latestReview { stars } products(first: 1) { name } }")).json()
        assert body["data"] == {"latestReview": None, "products": [{"name": "Product 1"}]}
        error = body["errors"][0]
        assert error["extensions"]["code"] == "SUBGRAPH_TIMEOUT"
        assert error["extensions"]["serviceName"] == "reviews"
        # cut at the request's deadline, not the subgraph's 10 s, and not retried after it
        assert "reviews" in error["message"] and "request's deadline" in error["message"]
        assert hung.requests == 1
        # each timed-out request counts at once: the breaker opens after three of them
        for _ in range(2):
            await gw.query("{ latestReview { stars } }")
        assert gw.edge.breakers["reviews"].state == "open"
        body = (await gw.query("{ latestReview { stars } }")).json()
        assert codes(body) == ["SUBGRAPH_CIRCUIT_OPEN"]
        assert hung.requests == 3  # the open breaker did not ask the subgraph
        await client.aclose()


# ------------------------------------------------------------------------------- batches
async def test_a_batch_spends_one_cost_limit_for_all_its_operations(
    make_gateway: GatewayFactory,
) -> None:
    one = "{ products(first: 10) { name } }"
    gw = await make_gateway(EdgeConfig(limits=LimitsConfig(max_cost=25)))
    alone = (await gw.query(one)).json()
    assert "errors" not in alone, alone
    batch = (await gw.post([{"query": one}] * 3)).json()
    assert "errors" not in batch[0]
    refused = [b for b in batch if b.get("errors")]
    assert refused and all(codes(b) == ["COST_ESTIMATED_TOO_EXPENSIVE"] for b in refused)
    assert "batch" in refused[0]["errors"][0]["message"]


async def test_a_batch_counts_every_operation_against_the_rate_limit(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(EdgeConfig(rate_limit=3))
    batch = (await gw.post([{"query": "{ products(first: 1) { name } }"}] * 5)).json()
    assert [codes(b) for b in batch].count(["RATE_LIMITED"]) == 2


async def test_the_batch_size_is_configurable(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(limits=LimitsConfig(max_batch_operations=2)))
    r = await gw.post([{"query": "{ __typename }"}] * 3)
    assert r.status_code == 400
    assert codes(r.json()) == ["BATCH_LIMIT_EXCEEDED"]
    r = await gw.post([{"query": "{ __typename }"}] * 2)
    assert r.json() == [{"data": {"__typename": "Query"}}] * 2


# ---------------------------------------------------------------------- production profile
def test_the_production_profile_closes_what_development_leaves_open(tmp_path: Any) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text('{"format": "apollo-persisted-query-manifest", "operations": []}')
    dev = EdgeConfig.from_env({})
    assert dev.introspection and dev.field_suggestions and dev.persisted_mode == "off"
    assert graphiql_enabled({})
    prod = EdgeConfig.from_env(
        {"MEDIA_GATEWAY_ENV": "production", "GATEWAY_PERSISTED_MANIFESTS": str(manifest)}
    )
    assert not prod.introspection and not prod.field_suggestions
    assert prod.persisted_mode == "safelist"
    assert prod.limits == PRODUCTION_LIMITS
    assert not graphiql_enabled({"MEDIA_GATEWAY_ENV": "production"})
    assert graphiql_enabled({"MEDIA_GATEWAY_ENV": "production", "GATEWAY_GRAPHIQL": "1"})
    # each default stays overridable
    opened = EdgeConfig.from_env(
        {"MEDIA_GATEWAY_ENV": "production", "GATEWAY_INTROSPECTION": "1", "GATEWAY_MAX_DEPTH": "30"}
    )
    assert opened.introspection and opened.limits.max_depth == 30
    assert EdgeConfig.from_env({"MEDIA_GATEWAY_ENV": "production"}).persisted_mode == "off"


async def test_production_refuses_introspection_and_suggestions(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(EdgeConfig.from_env({"MEDIA_GATEWAY_ENV": "production"}))
    body = (await gw.query("{ __schema { types { name } } }")).json()
    assert codes(body) == ["INTROSPECTION_DISABLED"]
    body = (await gw.query("{ product { nam } }")).json()
    assert "Did you mean" not in body["errors"][0]["message"]


async def test_production_limits_apply(make_gateway: GatewayFactory) -> None:
    query = "{ products(first: 1) { " + " ".join(f"n{i}: name" for i in range(60)) + " } }"
    dev = await make_gateway()
    assert "errors" not in (await dev.query(query)).json()
    prod = await make_gateway(EdgeConfig.from_env({"MEDIA_GATEWAY_ENV": "production"}))
    assert codes((await prod.query(query)).json()) == ["MAX_ALIASES_LIMIT"]
    batch = await prod.post([{"query": "{ __typename }"}] * 6)
    assert codes(batch.json()) == ["BATCH_LIMIT_EXCEEDED"]
