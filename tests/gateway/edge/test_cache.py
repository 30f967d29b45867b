"""The response cache for public data, driven by cache hints."""

from __future__ import annotations

from media_gateway.gateway.edge import EdgeConfig
from media_gateway.gateway.edge.config import CacheHint

from . import shop
from .conftest import GatewayFactory

HINTS = {
    "Query.products": CacheHint(60),
    "Product": CacheHint(120),
    "Product.reviews": CacheHint(30),
    "Query.latestReview": CacheHint(10, "PRIVATE"),
}


async def test_public_data_is_cached_with_cache_control(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(cache_hints=HINTS))
    q = "{ products { name reviews { stars } } }"
    first = await gw.query(q)
    assert first.headers["cache-control"] == "max-age=30, public"
    second = await gw.query(q)
    assert second.json() == first.json()
    assert "age" in second.headers
    assert shop.CALLS["products"] == 1
    metrics = (await gw.http.get("/metrics")).text
    assert 'gateway_cache_hits_total{cache="response"} 1.0' in metrics


async def test_private_scope_is_cached_per_client(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(cache_hints=HINTS))
    q = "{ latestReview { stars } products { name } }"
    a = await gw.query(q, headers={"x-api-key": "a"})
    assert a.headers["cache-control"] == "max-age=10, private"
    await gw.query(q, headers={"x-api-key": "a"})
    await gw.query(q, headers={"x-api-key": "b"})
    assert shop.CALLS["reviews"] == 2


async def test_unhinted_data_and_errors_are_not_stored(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    r = await gw.query("{ products { name } }")
    assert r.headers["cache-control"] == "no-store"
    await gw.query("{ products { name } }")
    assert shop.CALLS["products"] == 2
