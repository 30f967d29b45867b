"""`/ready` of the router: its own dependencies, without knowing what the subgraphs serve."""

from __future__ import annotations

from media_gateway.gateway.edge import EdgeConfig

from .conftest import GatewayFactory, shop_clients
from .test_resilience import BOTH, DeadClient


async def test_ready_lists_every_subgraph_with_its_breaker(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(), shop_clients())
    ready = await gw.http.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "dependencies": {
            "supergraph": "loaded",
            "subgraphs": {"products": "closed", "reviews": "closed"},
        },
    }
    assert (await gw.http.get("/health")).json() == {"status": "pass"}


async def test_an_open_breaker_is_degraded_and_the_gateway_stays_ready(
    make_gateway: GatewayFactory,
) -> None:
    clients = {**shop_clients(), "reviews": DeadClient()}
    gw = await make_gateway(
        EdgeConfig(breaker_failure_threshold=1, retries=0, breaker_reset_seconds=60), clients
    )
    body = (await gw.query(BOTH)).json()
    assert body["data"] == {"latestReview": None, "products": [{"name": "Product 1"}]}

    ready = await gw.http.get("/ready")
    assert ready.status_code == 200  # partial answers still flow: stay in the load balancer
    report = ready.json()
    assert report["status"] == "ready"
    assert report["dependencies"]["subgraphs"] == {"products": "closed", "reviews": "open"}
    assert report["degraded"] == {"reviews": "circuit breaker open"}
    # the same state the operator endpoint shows
    breakers = (await gw.http.get("/health/subgraphs")).json()["subgraphs"]
    assert breakers["reviews"]["state"] == "open"
    health = await gw.http.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "pass"}
