"""Hostile documents and batches against the real HTTP server: each is refused with its own
code, cheaply, while the process keeps answering everyone else; nothing answers 500."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .conftest import Gateway, new_viewer

MAX_REPORTED = 2**53 - 1


def fragment_explosion(levels: int, spreads: int) -> str:
    """Each fragment spreads the next one `spreads` times: spreads**levels fields, in a
    document of a few hundred bytes."""
    parts = ["query { ...F0 }"]
    for i in range(levels):
        parts.append(f"fragment F{i} on Query {{ " + " ".join([f"...F{i + 1}"] * spreads) + " }")
    parts.append(f"fragment F{levels} on Query {{ __typename }}")
    return "\n".join(parts)


async def post(gw: Gateway, body: Any, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(gw.http_url, json=body, headers=headers)


def codes(body: Any) -> list[str]:
    return [str(e["extensions"]["code"]) for e in body.get("errors", [])]


async def test_fragment_explosions_are_refused_before_any_expansion(gateway: Gateway) -> None:
    for levels, spreads, fields in ((20, 2, 2**20), (9, 10, 10**9), (60, 2, 2**60)):
        document = fragment_explosion(levels, spreads)
        assert len(document.encode()) < 2500
        response = await post(gateway, {"query": document})
        assert response.status_code == 200, response.text
        body = response.json()
        assert codes(body) == ["MAX_EXPANDED_FIELDS_LIMIT"], body
        assert body["errors"][0]["extensions"]["actual"] == min(fields, MAX_REPORTED)
        assert "data" not in body


async def test_health_answers_while_explosive_documents_arrive(gateway: Gateway) -> None:
    stop = asyncio.Event()

    async def attack() -> int:
        sent = 0
        async with httpx.AsyncClient(timeout=30) as http:
            while not stop.is_set():
                # a new document each time: nothing is answered from a cache
                doc = fragment_explosion(30, 2) + f"\n# {sent}"
                r = await http.post(gateway.http_url, json={"query": doc})
                assert r.status_code == 200
                sent += 1
        return sent

    attacker = asyncio.create_task(attack())
    health = gateway.http_url.replace("/graphql", "/health")
    async with httpx.AsyncClient(timeout=5) as http:
        for _ in range(20):
            r = await http.get(health)  # a stalled process would time out here
            assert r.status_code == 200 and r.json() == {"status": "pass"}
            await asyncio.sleep(0.01)
    stop.set()
    assert await attacker > 0


async def test_an_astronomical_cost_is_refused_with_a_clamped_figure(gateway: Gateway) -> None:
    query = (
        "{ trending(first: 2147483647) { similar(first: 2147483647) {"
        " similar(first: 2147483647) { id } } } }"
    )
    response = await post(gateway, {"query": query})
    assert response.status_code == 200, response.text
    body = response.json()
    assert codes(body) == ["COST_ESTIMATED_TOO_EXPENSIVE"], body
    error = body["errors"][0]
    assert error["extensions"]["actual"] == MAX_REPORTED
    assert "more than 9007199254740991" in error["message"]


async def test_huge_integers_in_variables_are_refused_not_crashed(gateway: Gateway) -> None:
    query = "query($n: Int) { trending(first: $n) { id } }"
    for value in (10**30, -(10**30), 2**63):
        response = await post(gateway, {"query": query, "variables": {"n": value}})
        assert response.status_code < 500, response.text
        assert response.json().get("errors"), response.text


async def test_a_batch_over_the_limit_is_refused_whole(gateway: Gateway) -> None:
    response = await post(gateway, [{"query": "{ __typename }"}] * 1000)
    assert response.status_code == 400
    body = response.json()
    assert codes(body) == ["BATCH_LIMIT_EXCEEDED"]
    assert body["errors"][0]["extensions"] == {
        "code": "BATCH_LIMIT_EXCEEDED",
        "limit": 10,
        "actual": 1000,
    }


async def test_mutations_in_a_batch_run_in_the_order_sent(gateway: Gateway) -> None:
    viewer = await new_viewer(gateway)
    auth = {"authorization": f"Bearer {viewer['token']}"}
    register = "mutation($n: String!) { registerDevice(name: $n, kind: TV) { id } }"
    devices = "{ me { devices { name } } }"
    batch = [
        {"query": register, "variables": {"n": "Kitchen"}},
        {"query": devices},
        {"query": register, "variables": {"n": "Bedroom"}},
        {"query": devices},
    ]
    response = await post(gateway, batch, **auth)
    assert response.status_code == 200, response.text
    first, seen_first, second, seen_second = response.json()
    assert "errors" not in first and "errors" not in second, response.text
    names_first = {d["name"] for d in seen_first["data"]["me"]["devices"]}
    names_second = {d["name"] for d in seen_second["data"]["me"]["devices"]}
    assert "Kitchen" in names_first and "Bedroom" not in names_first
    assert {"Kitchen", "Bedroom"} <= names_second


async def test_malformed_requests_get_precise_errors_never_500(gateway: Gateway) -> None:
    cases: list[Any] = [
        {"query": "{"},
        {"query": 42},
        {"query": "{ __typename }", "variables": [1, 2]},
        {"query": "{ __typename }", "operationName": 7},
        {"query": "query($n: Int!) { trending(first: $n) { id } }", "variables": {"n": "x"}},
        [],
        [1, 2],
        "just a string",
        {"query": "{ " + "a: __typename " * 300 + "}"},
        {"query": "{ trending { " * 40 + "id" + " }" * 40 + " }"},
    ]
    for body in cases:
        response = await post(gateway, body)
        assert response.status_code < 500, (body, response.text)
        payload = response.json()
        errors = payload if isinstance(payload, list) else [payload]
        for item in errors:
            for error in item.get("errors", []):
                assert error["extensions"]["code"], error
                assert "Traceback" not in error["message"]
