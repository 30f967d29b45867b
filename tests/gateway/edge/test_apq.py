"""Automatic persisted queries through the gateway."""

from __future__ import annotations

import hashlib
import json
import socket

from media_gateway.gateway.edge import EdgeConfig

from .conftest import GatewayFactory

QUERY = "query Names { products { name } }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()
PQ = {"persistedQuery": {"version": 1, "sha256Hash": HASH}}
NAMES = {"products": [{"name": f"Product {i}"} for i in range(1, 6)]}


async def test_handshake_miss_register_hit(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    miss = await gw.post({"extensions": PQ})
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    register = await gw.post({"query": QUERY, "extensions": PQ})
    assert register.json() == {"data": NAMES}
    hit = await gw.post({"extensions": PQ})
    assert hit.json() == {"data": NAMES}
    metrics = (await gw.http.get("/metrics")).text
    assert 'gateway_cache_hits_total{cache="apq"} 1.0' in metrics


async def test_hash_mismatch_is_refused_and_not_stored(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    r = await gw.post({"query": QUERY, "extensions": wrong})
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert "data" not in r.json()
    again = await gw.post({"extensions": wrong})
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_apq_over_get(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    headers = {"accept": "application/json", "apollo-require-preflight": "true"}
    params = {"extensions": json.dumps(PQ)}
    miss = await gw.http.get("/graphql", params=params, headers=headers)
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    reg = await gw.http.get("/graphql", params={**params, "query": QUERY}, headers=headers)
    assert reg.json() == {"data": NAMES}
    hit = await gw.http.get("/graphql", params=params, headers=headers)
    assert hit.json() == {"data": NAMES}


async def test_apq_disabled(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(apq=False))
    r = await gw.post({"extensions": PQ})
    assert r.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


async def test_an_unreachable_redis_keeps_apq_working_in_process(
    make_gateway: GatewayFactory,
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    gw = await make_gateway(EdgeConfig(redis_url=f"redis://127.0.0.1:{closed}/0"))
    miss = await gw.post({"extensions": PQ})
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    register = await gw.post({"query": QUERY, "extensions": PQ})
    assert register.json() == {"data": NAMES}
    hit = await gw.post({"extensions": PQ})
    assert hit.json() == {"data": NAMES}
    assert str(closed) not in hit.text + miss.text
