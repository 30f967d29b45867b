"""Errors of a failed or timed-out fetch point at the fields it leaves null.

Per the GraphQL spec a field error carries the response path of the field; the router gives
one to every error of a fetch that returned nothing (a dead subgraph, a timeout, an open
breaker, a missing client), with the subgraph's name in `extensions.serviceName`."""

from __future__ import annotations

from typing import Any

from media_gateway.gateway.edge import EdgeConfig

from .conftest import GatewayFactory, shop_clients
from .test_resilience import DeadClient, SlowClient


def _paths(body: dict[str, Any]) -> list[tuple[Any, str, str]]:
    return [
        (e.get("path"), e["extensions"]["code"], e["extensions"]["serviceName"])
        for e in body["errors"]
    ]


async def test_dead_root_fetch_errors_carry_the_root_field_keys(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(EdgeConfig(retries=0), {**shop_clients(), "reviews": DeadClient()})
    body = (await gw.query("{ latest: latestReview { stars } products(first: 1) { name } }")).json()
    assert body["data"] == {"latest": None, "products": [{"name": "Product 1"}]}
    assert _paths(body) == [(["latest"], "SUBGRAPH_FETCH_FAILED", "reviews")]


async def test_dead_entity_fetch_errors_point_at_each_object_and_field(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(EdgeConfig(retries=0), {**shop_clients(), "reviews": DeadClient()})
    body = (await gw.query("{ products(first: 2) { name reviews { stars } } }")).json()
    # `Product.reviews`, the list items and `Query.products` are non-null: the null reaches
    # the root, and the errors still say which fields were lost
    assert body["data"] is None
    assert _paths(body) == [
        (["products", 0, "reviews"], "SUBGRAPH_FETCH_FAILED", "reviews"),
        (["products", 1, "reviews"], "SUBGRAPH_FETCH_FAILED", "reviews"),
    ]


async def test_a_single_object_keeps_its_own_path(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(retries=0), {**shop_clients(), "reviews": DeadClient()})
    body = (await gw.query('{ item: product(id: "3") { name reviews { body } } }')).json()
    assert body["data"] == {"item": None}
    assert _paths(body) == [(["item", "reviews"], "SUBGRAPH_FETCH_FAILED", "reviews")]


async def test_open_breaker_and_timeout_errors_carry_paths(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(
        EdgeConfig(breaker_failure_threshold=1, retries=0, breaker_reset_seconds=60),
        {**shop_clients(), "reviews": DeadClient()},
    )
    await gw.query("{ latestReview { stars } }")
    body = (await gw.query("{ latestReview { stars } }")).json()
    assert _paths(body) == [(["latestReview"], "SUBGRAPH_CIRCUIT_OPEN", "reviews")]

    clients = shop_clients()
    clients["reviews"] = SlowClient(clients["reviews"], 0.5)
    gw = await make_gateway(EdgeConfig(retries=0, subgraph_timeouts={"reviews": 0.05}), clients)
    body = (await gw.query('{ product(id: "1") { name reviews { stars } } }')).json()
    assert body["data"] == {"product": None}
    assert _paths(body) == [(["product", "reviews"], "SUBGRAPH_TIMEOUT", "reviews")]


async def test_missing_client_errors_carry_paths(make_gateway: GatewayFactory) -> None:
    clients = shop_clients()
    del clients["reviews"]
    gw = await make_gateway(EdgeConfig(), clients)
    body = (await gw.query("{ latestReview { stars } products(first: 1) { name } }")).json()
    assert body["data"] == {"latestReview": None, "products": [{"name": "Product 1"}]}
    assert [(e["path"], e["extensions"]["serviceName"]) for e in body["errors"]] == [
        (["latestReview"], "reviews")
    ]
