"""Operation limits and cost, refused before any subgraph is called."""

from __future__ import annotations

import pytest

from media_gateway.gateway.edge import EdgeConfig, LimitsConfig

from . import shop
from .conftest import GatewayFactory


def deep_query(levels: int) -> str:
    return "{" + " a {" * levels + " b" + " }" * levels + " }"


async def _code(gw, query: str, **kw) -> str:  # type: ignore[no-untyped-def]
    r = await gw.query(query, **kw)
    body = r.json()
    assert "data" not in body, body
    return str(body["errors"][0]["extensions"]["code"])


async def test_deep_alias_and_huge_documents_are_refused(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    assert await _code(gw, deep_query(50)) == "MAX_DEPTH_LIMIT"
    aliases = "{" + " ".join(f"a{i}: latestReview {{ stars }}" for i in range(10_000)) + "}"
    assert await _code(gw, aliases) in {"MAX_TOKENS_LIMIT", "DOCUMENT_TOO_LARGE"}
    huge = "{ products { name } }" + " " * 200_000
    assert await _code(gw, huge) == "DOCUMENT_TOO_LARGE"
    assert shop.CALLS == {"products": 0, "reviews": 0}


@pytest.mark.parametrize(
    ("limits", "query", "code"),
    [
        (
            LimitsConfig(max_aliases=2),
            "{ a: latestReview { stars } b: latestReview { stars } c: latestReview { body } }",
            "MAX_ALIASES_LIMIT",
        ),
        (
            LimitsConfig(max_aliases=2),
            "{ ...F ...F } fragment F on Query { a: latestReview { stars } b: products { id } }",
            "MAX_ALIASES_LIMIT",
        ),
        (
            LimitsConfig(max_depth=2),
            "{ products { ...R } } fragment R on Product { reviews { stars } }",
            "MAX_DEPTH_LIMIT",
        ),
        (
            LimitsConfig(max_root_fields=1),
            "{ latestReview { stars } products { name } }",
            "MAX_ROOT_FIELDS_LIMIT",
        ),
        (
            LimitsConfig(max_directives_per_field=1),
            "{ latestReview @include(if: true) @skip(if: false) { stars } }",
            "MAX_DIRECTIVES_LIMIT",
        ),
        (LimitsConfig(max_tokens=5), "{ latestReview { stars body } }", "MAX_TOKENS_LIMIT"),
        (
            LimitsConfig(max_cost=20),
            "{ products(first: 50) { reviews { stars } } }",
            "COST_ESTIMATED_TOO_EXPENSIVE",
        ),
    ],
)
async def test_precise_limit_errors(
    make_gateway: GatewayFactory, limits: LimitsConfig, query: str, code: str
) -> None:
    gw = await make_gateway(EdgeConfig(limits=limits))
    r = await gw.query(query)
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == code
    assert "limit" in error["message"] or "tokens" in error["message"]
    assert shop.CALLS == {"products": 0, "reviews": 0}


async def test_cost_uses_slicing_arguments_and_variables(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(limits=LimitsConfig(max_cost=50)))
    q = "query P($n: Int) { products(first: $n) { reviews { stars } } }"
    ok = await gw.query(q, variables={"n": 2})
    assert "errors" not in ok.json()
    refused = await gw.query(q, variables={"n": 30})
    assert refused.json()["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    assert refused.json()["errors"][0]["extensions"]["actual"] > 50
    # the cost is kept per operation and set of variable values, never mixed up
    assert "errors" not in (await gw.query(q, variables={"n": 2})).json()
    again = await gw.query(q, variables={"n": 30})
    assert again.json()["errors"][0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"


async def test_inline_fragments_do_not_count_as_depth(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(EdgeConfig(limits=LimitsConfig(max_depth=2)))
    r = await gw.query("{ products { ... on Product { ... on Product { name } } } }")
    assert r.json()["data"]["products"][0] == {"name": "Product 1"}


async def test_introspection_and_suggestions_can_be_turned_off(
    make_gateway: GatewayFactory,
) -> None:
    open_gw = await make_gateway()
    r = await open_gw.query("{ latestReviw { stars } }")
    assert "Did you mean" in r.json()["errors"][0]["message"]
    gw = await make_gateway(EdgeConfig(introspection=False, field_suggestions=False))
    r = await gw.query("{ latestReviw { stars } }")
    assert "Did you mean" not in r.json()["errors"][0]["message"]
    r = await gw.query("{ __schema { types { name } } }")
    assert r.json()["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    r = await gw.query("{ __typename latestReview { stars } }")
    assert r.json()["data"] == {"__typename": "Query", "latestReview": {"stars": 5}}
