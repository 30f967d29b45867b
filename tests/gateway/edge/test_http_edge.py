"""CSRF, CORS, body limits and rate limits through the gateway."""

from __future__ import annotations

import uuid

import pytest

from media_gateway.gateway.edge import EdgeConfig, LimitsConfig

from . import shop
from .conftest import GatewayFactory, redis_url

Q = "{ latestReview { stars } }"


async def test_cross_site_form_post_is_refused(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    r = await gw.http.post(
        "/graphql",
        content=f"query={Q}",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "origin": "https://evil.example",
        },
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTED"
    plain_get = await gw.http.get(
        "/graphql", params={"query": Q}, headers={"accept": "application/json"}
    )
    assert plain_get.json()["errors"][0]["extensions"]["code"] == "CSRF_PREVENTED"
    assert shop.CALLS["reviews"] == 0
    # a JSON POST, or a GET with a non-simple header, is served
    assert (await gw.query(Q)).json() == {"data": {"latestReview": {"stars": 5}}}
    get = await gw.http.get(
        "/graphql",
        params={"query": Q},
        headers={"accept": "application/json", "x-apollo-operation-name": "Latest"},
    )
    assert get.json() == {"data": {"latestReview": {"stars": 5}}}


async def test_cors_policy(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(cors_origins=("https://app.example",)))
    ok = await gw.http.options(
        "/graphql",
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    other = await gw.query(Q, headers={"origin": "https://other.example"})
    assert "access-control-allow-origin" not in other.headers


async def test_declared_body_too_large(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(limits=LimitsConfig(max_body_bytes=1000)))
    r = await gw.post({"query": Q, "variables": {"pad": "x" * 5000}})
    assert r.status_code == 413
    assert r.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_rate_limited_in_process(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(rate_limit=2, redis_prefix=f"edge-test-{uuid.uuid4().hex}:"))
    key = {"x-api-key": "client-a"}
    for remaining in (1, 0):
        r = await gw.query(Q, headers=key)
        assert r.json() == {"data": {"latestReview": {"stars": 5}}}
        assert r.headers["ratelimit-remaining"] == str(remaining)
    r = await gw.query(Q, headers=key)
    assert r.status_code == 429
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] >= 1
    assert int(r.headers["retry-after"]) >= 1
    # another client has its own window
    other = await gw.query(Q, headers={"x-api-key": "client-b"})
    assert other.status_code == 200


async def test_client_throttled_across_two_instances_sharing_redis(
    make_gateway: GatewayFactory,
) -> None:
    url = redis_url()
    if url is None:
        pytest.skip("TEST_REDIS_URL is not set")
    prefix = f"media-gateway-test:edge:{uuid.uuid4().hex}:"
    config = EdgeConfig(rate_limit=3, redis_url=url, redis_prefix=prefix)
    first, second = await make_gateway(config), await make_gateway(config)
    key = {"x-api-key": "shared-client"}
    try:
        statuses = []
        for gw in (first, second, first, second):
            statuses.append((await gw.query(Q, headers=key)).status_code)
        assert statuses == [200, 200, 200, 429]
        # APQ registrations are shared through Redis too
        import hashlib

        text = "query Shared { latestReview { body } }"
        pq = {
            "persistedQuery": {
                "version": 1,
                "sha256Hash": hashlib.sha256(text.encode()).hexdigest(),
            }
        }
        other = {"x-api-key": "apq-client"}
        await first.post({"query": text, "extensions": pq}, other)
        hit = await second.post({"extensions": pq}, other)
        assert hit.json() == {"data": {"latestReview": {"body": "Latest"}}}
    finally:
        import redis.asyncio as redis

        client = redis.Redis.from_url(url)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_cost_budget_per_client_per_minute(make_gateway: GatewayFactory) -> None:
    budget = 40
    gw = await make_gateway(
        EdgeConfig(
            limits=LimitsConfig(cost_budget_per_minute=budget),
            redis_prefix=f"edge-test-{uuid.uuid4().hex}:",
        )
    )
    key = {"x-api-key": "spender"}
    served = 0
    while served < 100:
        r = await gw.query(Q, headers=key)
        if r.status_code != 200:
            break
        served += 1
    assert r.status_code == 429
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    cost = error["extensions"]["cost"]
    # the budget admits exactly as many operations as it has room for
    assert served * cost <= budget < (served + 1) * cost
    # another client has its own budget
    assert (await gw.query(Q, headers={"x-api-key": "saver"})).status_code == 200
