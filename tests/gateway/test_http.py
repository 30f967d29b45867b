"""GraphQL over HTTP at the gateway's Starlette app: methods, media types, status codes,
batches, request errors, GraphiQL and health."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from media_gateway.gateway.clients import InProcessClient
from media_gateway.gateway.server import GatewayConfig, create_app, create_gateway_app

from .helpers import supergraph_sdl
from .library import SUBGRAPHS

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        supergraph_sdl("library"), {n: InProcessClient(s) for n, s in SUBGRAPHS.items()}
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client,
    ):
        yield client


async def _post(
    http: httpx.AsyncClient, body: Any, accept: str = JSON, **kw: Any
) -> httpx.Response:
    return await http.post("/graphql", json=body, headers={"accept": accept}, **kw)


# ------------------------------------------------------------------ POST and GET
async def test_post_json(http: httpx.AsyncClient) -> None:
    r = await _post(http, {"query": '{ book(id: "b1") { title stock } }'})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(JSON)
    assert r.json() == {"data": {"book": {"title": "The Quiet Harbor", "stock": 3}}}


async def test_post_graphql_response_media_type(http: httpx.AsyncClient) -> None:
    r = await _post(http, {"query": "{ __typename }"}, GRAPHQL_RESPONSE)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(GRAPHQL_RESPONSE)


async def test_get_query_with_variables(http: httpx.AsyncClient) -> None:
    params = {
        "query": "query Q($id: ID!) { book(id: $id) { title } }",
        "variables": json.dumps({"id": "b2"}),
        "operationName": "Q",
    }
    r = await http.get("/graphql", params=params, headers={"accept": JSON})
    assert r.status_code == 200
    assert r.json() == {"data": {"book": {"title": "Paper Moons"}}}


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_mutation_over_get_is_refused(http: httpx.AsyncClient, accept: str) -> None:
    query = 'mutation { restock(isbn: "isbn-1", amount: 1) { stock } }'
    r = await http.get("/graphql", params={"query": query}, headers={"accept": accept})
    assert r.status_code == 405
    assert r.headers["allow"] == "POST"
    assert r.json()["errors"]
    # nothing ran
    after = await _post(http, {"query": '{ book(id: "b1") { stock } }'})
    assert after.json()["data"] == {"book": {"stock": 3}}


# ------------------------------------------------------------------ request errors
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ book(id: ", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_document_errors_status_by_media_type(
    http: httpx.AsyncClient, query: str, code: str
) -> None:
    strict = await _post(http, {"query": query}, GRAPHQL_RESPONSE)
    assert strict.status_code == 400
    assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in strict.json()
    assert strict.json()["errors"][0]["extensions"]["code"] == code
    legacy = await _post(http, {"query": query}, JSON)
    assert legacy.status_code == 200
    assert legacy.json()["errors"][0]["extensions"]["code"] == code


async def test_validation_errors_carry_locations(http: httpx.AsyncClient) -> None:
    query = '{\n  book(id: "b1") {\n    title\n    pagez\n  }\n}'
    r = await _post(http, {"query": query})
    [error] = r.json()["errors"]
    assert "pagez" in error["message"]
    assert error["locations"] == [{"line": 4, "column": 5}]


async def test_syntax_error_carries_location(http: httpx.AsyncClient) -> None:
    r = await _post(http, {"query": "{ book(id: ) }"})
    [error] = r.json()["errors"]
    assert error["locations"] == [{"line": 1, "column": 12}]


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"query": "query A { __typename } query B { __typename }", "operationName": "C"}, "C"),
        ({"query": "query A { __typename } query B { __typename }"}, "operation name"),
        ({"query": "query ($id: ID!) { book(id: $id) { title } }"}, "$id"),
        (
            {"query": "query ($id: ID!) { book(id: $id) { title } }", "variables": {"id": None}},
            "$id",
        ),
        ({"query": "query ($n: Int!) { booksCount(delayMs: $n) }", "variables": {"n": "x"}}, "$n"),
        ({"query": "query ($n: Int!) { booksCount(delayMs: $n) }", "variables": {"n": 1.5}}, "$n"),
    ],
    ids=["unknown-operation", "ambiguous", "missing", "null", "wrong-type", "not-an-int"],
)
async def test_request_errors_are_bad_user_input(
    http: httpx.AsyncClient, body: dict[str, Any], needle: str, accept: str
) -> None:
    r = await _post(http, body, accept)
    assert r.status_code == (400 if accept == GRAPHQL_RESPONSE else 200)
    payload = r.json()
    assert "data" not in payload
    [error] = payload["errors"]
    assert needle in error["message"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    "body",
    [
        {"query": "{ __typename }", "variables": [1]},
        {"query": "{ __typename }", "operationName": 7},
        {"query": 42},
        {"variables": {}},
        "just a string",
    ],
    ids=["variables-list", "operation-name-number", "query-number", "no-query", "not-object"],
)
async def test_malformed_requests_are_400_never_500(http: httpx.AsyncClient, body: Any) -> None:
    r = await _post(http, body, GRAPHQL_RESPONSE)
    assert r.status_code == 400
    assert r.json()["errors"]


async def test_malformed_json_body_is_400(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/graphql",
        content=b'{"query": "{ __typename }"',
        headers={"content-type": JSON, "accept": JSON},
    )
    assert r.status_code == 400
    assert r.json()["errors"]


async def test_unsupported_content_type_is_415(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/graphql", content=b"{ __typename }", headers={"content-type": "text/plain"}
    )
    assert r.status_code == 415


async def test_unacceptable_accept_is_406(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/csv"}
    )
    assert r.status_code == 406


# ------------------------------------------------------------------ batches
async def test_batched_requests(http: httpx.AsyncClient) -> None:
    batch = [
        {"query": '{ book(id: "b1") { title } }'},
        {"query": "query ($id: ID!) { author(id: $id) { name } }", "variables": {"id": "a2"}},
        {"query": "{ nope }"},
    ]
    r = await _post(http, batch)
    assert r.status_code == 200
    answers = r.json()
    assert answers[0] == {"data": {"book": {"title": "The Quiet Harbor"}}}
    assert answers[1] == {"data": {"author": {"name": "Ben Inkwell"}}}
    assert answers[2]["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_empty_batch_is_400(http: httpx.AsyncClient) -> None:
    r = await _post(http, [])
    assert r.status_code == 400


# ------------------------------------------------------------------ GraphiQL and health
async def test_graphiql_for_a_browser(http: httpx.AsyncClient) -> None:
    r = await http.get("/graphql", headers={"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "/graphql" in r.text
    # a GET with a query is still a GraphQL request
    q = await http.get(
        "/graphql", params={"query": "{ __typename }"}, headers={"accept": "text/html, */*"}
    )
    assert q.json() == {"data": {"__typename": "Query"}}


async def test_health_once_loaded(http: httpx.AsyncClient) -> None:
    r = await http.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "pass"


async def test_not_ready_without_a_supergraph() -> None:
    app = create_gateway_app(GatewayConfig(clients={}))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as client:
        assert (await client.get("/health")).status_code == 200  # alive all the same
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["failing"] == {"supergraph": "not loaded"}
        r = await client.post("/graphql", json={"query": "{ __typename }"})
        assert r.status_code == 200 and r.json()["errors"]


async def test_query_plan_header(http: httpx.AsyncClient) -> None:
    r = await http.post(
        "/graphql",
        json={"query": "{ latestReviews { book { stock } } }"},
        headers={"x-expose-query-plan": "true"},
    )
    ext = r.json()["extensions"]
    assert ext["fetches"] == 3
    assert ext["representations"] == 6
    assert [f["service"] for f in ext["queryPlan"]["fetches"]] == ["reviews", "books", "inventory"]
    assert ext["queryPlanText"].startswith("QueryPlan {")
