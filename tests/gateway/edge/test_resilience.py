"""Resilience toward subgraphs through the gateway."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from media_gateway.gateway.clients import SubgraphFetchError, SubgraphRequest
from media_gateway.gateway.edge import EdgeConfig

from . import shop
from .conftest import GatewayFactory, shop_clients

BOTH = "{ latestReview { stars } products(first: 1) { name } }"


class DeadClient:
    def __init__(self) -> None:
        self.calls = 0

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        self.calls += 1
        raise SubgraphFetchError("could not be reached: ConnectError")

    async def aclose(self) -> None:
        return None


class FlakyClient:
    """Fails the first `failures` fetches, then delegates."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.calls = 0

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            raise SubgraphFetchError("timed out", "SUBGRAPH_TIMEOUT")
        return await self.inner.fetch(request)

    async def aclose(self) -> None:
        return None


class SlowClient:
    def __init__(self, inner: Any, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.calls = 0

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return await self.inner.fetch(request)

    async def aclose(self) -> None:
        return None


async def test_dead_subgraph_opens_its_breaker_and_the_rest_survives(
    make_gateway: GatewayFactory,
) -> None:
    dead = DeadClient()
    clients = {**shop_clients(), "reviews": dead}
    gw = await make_gateway(
        EdgeConfig(breaker_failure_threshold=2, retries=0, breaker_reset_seconds=60), clients
    )
    codes = []
    for _ in range(3):
        r = await gw.query(BOTH)
        body = r.json()
        assert body["data"] == {"latestReview": None, "products": [{"name": "Product 1"}]}
        codes.append(body["errors"][0]["extensions"]["code"])
    assert codes == ["SUBGRAPH_FETCH_FAILED", "SUBGRAPH_FETCH_FAILED", "SUBGRAPH_CIRCUIT_OPEN"]
    assert dead.calls == 2  # the open breaker fails fast without calling the subgraph
    # the products subgraph kept answering
    r = await gw.query("{ products(first: 1) { name } }")
    assert r.json() == {"data": {"products": [{"name": "Product 1"}]}}
    state = (await gw.http.get("/health/subgraphs")).json()["subgraphs"]
    assert state["reviews"]["state"] == "open"
    assert state["products"]["state"] == "closed"
    metrics = (await gw.http.get("/metrics")).text
    assert 'gateway_circuit_breaker_state{subgraph="reviews"} 2.0' in metrics


async def test_breaker_half_opens_and_closes_after_recovery(make_gateway: GatewayFactory) -> None:
    clients = shop_clients()
    flaky = FlakyClient(clients["reviews"], failures=1)
    gw = await make_gateway(
        EdgeConfig(breaker_failure_threshold=1, retries=0, breaker_reset_seconds=0.05),
        {**clients, "reviews": flaky},
    )
    r = await gw.query("{ latestReview { stars } }")
    assert r.json()["errors"][0]["extensions"]["code"] == "SUBGRAPH_TIMEOUT"
    assert gw.edge.breakers["reviews"].state == "open"
    await asyncio.sleep(0.06)
    assert gw.edge.breakers["reviews"].state == "half_open"
    r = await gw.query("{ latestReview { stars } }")
    assert r.json() == {"data": {"latestReview": {"stars": 5}}}
    assert gw.edge.breakers["reviews"].state == "closed"


async def test_idempotent_fetches_are_retried_mutations_never(
    make_gateway: GatewayFactory,
) -> None:
    clients = shop_clients()
    flaky = FlakyClient(clients["reviews"], failures=2)
    gw = await make_gateway(
        EdgeConfig(retries=2, retry_backoff_seconds=0.001), {**clients, "reviews": flaky}
    )
    r = await gw.query("{ latestReview { stars } }")
    assert r.json() == {"data": {"latestReview": {"stars": 5}}}
    assert flaky.calls == 3
    edge_client = gw.edge.clients["reviews"]
    flaky.calls, flaky.failures = 0, 1
    with contextlib.suppress(SubgraphFetchError):
        await edge_client.fetch(SubgraphRequest("mutation { x }"))
    assert flaky.calls == 1


async def test_per_subgraph_timeout(make_gateway: GatewayFactory) -> None:
    clients = shop_clients()
    slow = SlowClient(clients["reviews"], 1.0)
    gw = await make_gateway(
        EdgeConfig(subgraph_timeouts={"reviews": 0.05}, retries=0), {**clients, "reviews": slow}
    )
    r = await gw.query(BOTH)
    body = r.json()
    assert body["errors"][0]["extensions"]["code"] == "SUBGRAPH_TIMEOUT"
    assert body["errors"][0]["extensions"]["serviceName"] == "reviews"


async def test_identical_in_flight_fetches_are_shared(make_gateway: GatewayFactory) -> None:
    clients = shop_clients()
    slow = SlowClient(clients["reviews"], 0.05)
    gw = await make_gateway(EdgeConfig(response_cache=False), {**clients, "reviews": slow})
    results = await asyncio.gather(*(gw.query("{ latestReview { stars } }") for _ in range(5)))
    assert all(r.json() == {"data": {"latestReview": {"stars": 5}}} for r in results)
    assert slow.calls == 1
    assert gw.edge.clients["reviews"].shared_fetches == 4


async def test_header_propagation_rules(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(
        EdgeConfig(propagate_headers={"products": ("authorization", "x-tenant"), "*": ()})
    )
    await gw.query(
        "{ products(first: 1) { name reviews { stars } } }",
        headers={"authorization": "Bearer t", "x-tenant": "acme", "accept-language": "fr"},
    )
    products = shop.SEEN_HEADERS["products"][-1]
    reviews = shop.SEEN_HEADERS["reviews"][-1]
    assert products["authorization"] == "Bearer t" and products["x-tenant"] == "acme"
    assert "accept-language" not in products
    assert "authorization" not in reviews and "x-tenant" not in reviews
    assert "traceparent" in reviews  # trace context always reaches every subgraph
