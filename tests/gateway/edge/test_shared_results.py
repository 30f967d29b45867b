"""A subgraph result shared between requests is never changed by any of them.

The edge lets identical in-flight fetches share one result (no copy per follower), so the
executor and the shaper must treat every subgraph result as read-only: merging an entity
fetch into an object copies that object into the request's own tree first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from media_gateway.gateway.clients import SubgraphRequest
from media_gateway.gateway.edge import EdgeConfig
from media_gateway.gateway.edge.resilience import CircuitBreaker, EdgeClient, RetryPolicy

from .conftest import GatewayFactory, shop_clients

QUERY = """{
  a: products(first: 2) { id name reviews { stars } }
  b: products(first: 3) { price reviews { body stars } }
}"""

EXPECTED = {
    "a": [{"id": str(i), "name": f"Product {i}", "reviews": [{"stars": 4}]} for i in range(1, 3)],
    "b": [
        {"price": 10 * i, "reviews": [{"body": f"Review of {i}", "stars": 4}]} for i in (1, 2, 3)
    ],
}


class Recording:
    """Slow enough that concurrent identical fetches overlap; keeps every result it returned
    with its serialised form at that moment."""

    def __init__(self, inner: Any, delay: float = 0.03) -> None:
        self.inner = inner
        self.delay = delay
        self.calls = 0
        self.returned: list[tuple[dict[str, Any], bytes]] = []

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        result: dict[str, Any] = await self.inner.fetch(request)
        self.returned.append((result, orjson.dumps(result)))
        return result

    async def aclose(self) -> None:
        return None


async def test_shared_results_are_never_changed(make_gateway: GatewayFactory) -> None:
    clients = shop_clients()
    products = Recording(clients["products"])
    reviews = Recording(clients["reviews"])
    gw = await make_gateway(
        EdgeConfig(response_cache=False), {"products": products, "reviews": reviews}
    )
    responses = await asyncio.gather(*(gw.query(QUERY) for _ in range(6)))
    for r in responses:
        assert r.json() == {"data": EXPECTED}
    # the six requests shared their fetches ...
    assert products.calls < 6 and reviews.calls < 6
    assert gw.edge.clients["products"].shared_fetches > 0
    # ... and every result is exactly as the subgraph returned it
    for recorder in (products, reviews):
        assert recorder.returned
        for result, serialised in recorder.returned:
            assert orjson.dumps(result) == serialised
    # the requests after them (no sharing) see the same answers
    assert (await gw.query(QUERY)).json() == {"data": EXPECTED}


async def test_followers_get_the_leaders_result_itself() -> None:
    recorder = Recording(shop_clients()["products"])
    client = EdgeClient(
        "products", recorder, breaker=CircuitBreaker("products"), retry=RetryPolicy(0)
    )
    request = SubgraphRequest("{ products(first: 1) { id } }", {}, None, {"x-request-id": "1"})
    other = SubgraphRequest("{ products(first: 1) { id } }", {}, None, {"x-request-id": "2"})
    results = await asyncio.gather(client.fetch(request), client.fetch(other))
    assert recorder.calls == 1 and client.shared_fetches == 1
    assert results[0] is results[1]  # no copy per follower


async def test_requests_that_differ_are_not_shared() -> None:
    recorder = Recording(shop_clients()["products"])
    client = EdgeClient(
        "products", recorder, breaker=CircuitBreaker("products"), retry=RetryPolicy(0)
    )
    query = "query($n: Int) { products(first: $n) { id } }"
    results = await asyncio.gather(
        client.fetch(SubgraphRequest(query, {"n": 1})),
        client.fetch(SubgraphRequest(query, {"n": 2})),
        client.fetch(SubgraphRequest(query, {"n": 1}, None, {"authorization": "Bearer x"})),
    )
    assert recorder.calls == 3 and client.shared_fetches == 0
    assert [len(r["data"]["products"]) for r in results] == [1, 2, 1]
