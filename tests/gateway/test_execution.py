"""Execution through the gateway: representation de-duplication, concurrent fetches,
planner-added fields never leaking, null propagation, error paths, mutations in order and
introspection. Every test runs with the subgraphs in-process and over HTTP."""

from __future__ import annotations

from typing import Any

from .conftest import GatewayFactory
from .helpers import Gateway
from .library import data


def _walk_keys(value: Any, out: set[str]) -> set[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(k)
            _walk_keys(v, out)
    elif isinstance(value, list):
        for v in value:
            _walk_keys(v, out)
    return out


# ------------------------------------------------------------------ de-duplication
async def test_representations_are_deduplicated(gateway: Gateway) -> None:
    """Four reviews point at three books: three representations per entity fetch."""
    result = await gateway.post("{ latestReviews { book { stock } } }")
    assert not result.errors
    assert result.fetches == 3  # reviews, books (isbn), inventory
    assert result.representations == 3 + 3


async def test_one_entity_fetch_per_subgraph_and_path(gateway: Gateway) -> None:
    result = await gateway.post("{ books { location author { born } } }")
    assert result.services() == ["books", "inventory", "authors"]
    assert result.representations == 4 + 3  # four books; three distinct authors
    assert [b["author"]["born"] for b in result.data["books"]] == [1950, 1962, 1950, 1978]


async def test_merged_entity_answers_reach_every_duplicate(gateway: Gateway) -> None:
    data = await gateway.data("{ latestReviews { id book { id averageRating } } }")
    ratings = {r["id"]: r["book"]["averageRating"] for r in data["latestReviews"]}
    assert ratings == {"r1": 4.5, "r2": 3.0, "r3": 4.5, "r4": 2.0}


# ------------------------------------------------------------------ concurrency
def _overlap(timeline: list[tuple[str, float, float]], a: str, b: str) -> bool:
    spans = {name: (start, end) for name, start, end in timeline}
    (a0, a1), (b0, b1) = spans[a], spans[b]
    return a0 < b1 and b0 < a1


async def test_independent_root_fetches_run_concurrently(
    gateway: Gateway, library_state: data.State
) -> None:
    result = await gateway.post("{ booksCount(delayMs: 300) authorsCount(delayMs: 300) }")
    assert result.data == {"booksCount": 4, "authorsCount": 3}
    assert sorted(result.services()) == ["authors", "books"]
    assert _overlap(library_state.timeline, "booksCount", "authorsCount"), library_state.timeline


async def test_entity_fetch_runs_while_an_unrelated_root_fetch_is_pending(
    gateway: Gateway, library_state: data.State
) -> None:
    """books -> reviews (entity) does not wait for the slow authors root fetch."""
    result = await gateway.post(
        '{ book(id: "b1") { reviewCount(delayMs: 300) } authorsCount(delayMs: 300) }'
    )
    assert result.data == {"book": {"reviewCount": 2}, "authorsCount": 3}
    assert _overlap(library_state.timeline, "reviewCount", "authorsCount"), library_state.timeline


async def test_dependent_fetches_wait_for_their_inputs(gateway: Gateway) -> None:
    plan = (await gateway.post("{ latestReviews { book { shippingCost } } }")).extensions
    fetches = plan["queryPlan"]["fetches"]
    by_service = {f["service"]: f for f in fetches}
    assert by_service["books"]["dependsOn"] == [by_service["reviews"]["id"]]
    assert by_service["books"]["id"] in by_service["inventory"]["dependsOn"]


# ------------------------------------------------------------------ no leaks
async def test_fields_added_by_the_planner_never_leak(gateway: Gateway) -> None:
    query = """
    {
      latestReviews { rating book { shippingCost stock } }
      copies { onLoan branch { name } }
      popularHoldings { timesBorrowed ... on Book { stock } }
      search(term: "moon") { ... on Book { averageRating } }
    }
    """
    result = await gateway.post(query)
    assert not result.errors
    keys = _walk_keys(result.data, set())
    assert keys == {
        "latestReviews",
        "rating",
        "book",
        "shippingCost",
        "stock",
        "copies",
        "onLoan",
        "branch",
        "name",
        "popularHoldings",
        "timesBorrowed",
        "search",
        "averageRating",
    }


async def test_typename_leaks_only_when_asked_for(gateway: Gateway) -> None:
    data = await gateway.data('{ book(id: "b1") { stock author { born } } }')
    assert data == {"book": {"stock": 3, "author": {"born": 1950}}}


# ------------------------------------------------------------------ nulls and errors
async def test_error_path_of_a_root_fetch(gateway: Gateway) -> None:
    result = await gateway.post("{ latestReviews { id moderatorNote } }")
    assert result.data == {
        "latestReviews": [
            {"id": "r1", "moderatorNote": None},
            {"id": "r2", "moderatorNote": None},
            {"id": "r3", "moderatorNote": None},
            {"id": "r4", "moderatorNote": None},
        ]
    }
    assert result.error_paths() == [["latestReviews", 1, "moderatorNote"]]
    assert result.errors[0]["message"] == "The moderator note of r2 is sealed."
    assert result.errors[0]["extensions"]["serviceName"] == "reviews"


async def test_entity_field_error_is_rewritten_to_the_client_path(gateway: Gateway) -> None:
    """inventory fails `location` of isbn-3 at ["_entities", i, "location"]."""
    result = await gateway.post("{ books { title location } }")
    assert result.data == {
        "books": [
            {"title": "The Quiet Harbor", "location": "Shelf 1"},
            {"title": "Paper Moons", "location": "Shelf 2"},
            {"title": "Glass Rivers", "location": None},
            {"title": "Salt and Stars", "location": None},
        ]
    }
    paths = sorted(result.error_paths(), key=str)
    assert paths == [["books", 2, "location"], ["books", 3]]
    assert {e["extensions"]["serviceName"] for e in result.errors} == {"inventory"}


async def test_entity_error_path_under_an_alias_and_a_nested_list(gateway: Gateway) -> None:
    result = await gateway.post('{ writer: author(id: "a1") { works: books { where: location } } }')
    assert result.data == {"writer": {"works": [{"where": "Shelf 1"}, {"where": None}]}}
    assert result.error_paths() == [["writer", "works", 1, "where"]]


async def test_failed_entity_does_not_fail_the_request(gateway: Gateway) -> None:
    """isbn-4 has no inventory record: only that book's inventory fields are missing."""
    result = await gateway.post("{ books { id averageRating location } }")
    assert [b["id"] for b in result.data["books"]] == ["b1", "b2", "b3", "b4"]
    assert result.data["books"][0] == {"id": "b1", "averageRating": 4.5, "location": "Shelf 1"}
    assert result.data["books"][3] == {"id": "b4", "averageRating": None, "location": None}
    assert ["books", 3] in result.error_paths()


async def test_null_in_non_null_field_nulls_the_nearest_nullable_parent(gateway: Gateway) -> None:
    """Book.stock is Int!; isbn-4 has no stock, so `book` (nullable) becomes null."""
    result = await gateway.post(
        '{ book(id: "b4") { title stock } other: book(id: "b1") { title } }'
    )
    assert result.data == {"book": None, "other": {"title": "The Quiet Harbor"}}
    assert result.error_paths() == [["book"]]


async def test_null_propagates_through_non_null_lists(gateway: Gateway) -> None:
    """author.books is [Book!]!: one null book nulls the list, which nulls the author."""
    result = await gateway.post('{ author(id: "a3") { name books { title stock } } }')
    assert result.data == {"author": None}
    assert result.errors


async def test_null_propagation_up_to_data(gateway: Gateway) -> None:
    """Query.books is [Book!]!: nothing nullable above it, so data itself is null."""
    result = await gateway.post("{ books { stock } }")
    assert result.data is None
    assert len(result.errors) == 1


# ------------------------------------------------------------------ mutations
async def test_mutations_run_one_after_another(gateway: Gateway, library_state: data.State) -> None:
    query = """
    mutation {
      first: addReview(bookId: "b2", rating: 5, body: "Better the second time.") { sequence }
      second: restock(isbn: "isbn-2", amount: 4) { sequence stock }
      third: addReview(bookId: "b2", rating: 1, body: "Changed my mind.") { sequence }
      fourth: restock(isbn: "isbn-2", amount: 1) { sequence stock }
    }
    """
    result = await gateway.post(query)
    assert result.data == {
        "first": {"sequence": 1},
        "second": {"sequence": 2, "stock": 4},
        "third": {"sequence": 3},
        "fourth": {"sequence": 4, "stock": 5},
    }
    assert library_state.events == [
        ("reviews", "start", 1),
        ("reviews", "end", 1),
        ("inventory", "start", 2),
        ("inventory", "end", 2),
        ("reviews", "start", 3),
        ("reviews", "end", 3),
        ("inventory", "start", 4),
        ("inventory", "end", 4),
    ]


async def test_mutation_result_with_entity_jumps(gateway: Gateway) -> None:
    query = """
    mutation ($isbn: String!) {
      restock(isbn: $isbn, amount: 2) { stock book { averageRating } }
      addReview(bookId: "b3", rating: 4, body: "Grew on me.") {
        review { reader book { title stock reviews { rating } } }
      }
    }
    """
    data = await gateway.data(query, {"isbn": "isbn-3"})
    assert data == {
        "restock": {"stock": 3, "book": {"averageRating": 2.0}},
        "addReview": {
            "review": {
                "reader": "Reader One",
                "book": {
                    "title": "Glass Rivers",
                    "stock": 3,
                    "reviews": [{"rating": 2}, {"rating": 4}],
                },
            }
        },
    }


async def test_a_query_sees_the_mutation(gateway: Gateway) -> None:
    await gateway.data('mutation { restock(isbn: "isbn-2", amount: 7) { stock } }')
    assert await gateway.data('{ book(id: "b2") { stock } }') == {"book": {"stock": 7}}


# ------------------------------------------------------------------ introspection
async def test_introspection_is_answered_by_the_gateway(gateway: Gateway) -> None:
    result = await gateway.post(
        """{ __schema { queryType { name } mutationType { name } types { name }
                        directives { name } } }"""
    )
    assert result.fetches == 0
    schema = result.data["__schema"]
    assert schema["queryType"] == {"name": "Query"}
    assert schema["mutationType"] == {"name": "Mutation"}
    names = {t["name"] for t in schema["types"]}
    assert {"Book", "Author", "Holding", "SearchResult", "Copy", "Branch"} <= names
    assert not [
        n
        for n in names
        if n.startswith(("join__", "link__")) or n in ("_Any", "_Entity", "_Service")
    ]
    directives = {d["name"] for d in schema["directives"]}
    assert directives.isdisjoint({"join__type", "join__field", "link", "inaccessible", "key"})


async def test_inaccessible_field_is_hidden(gateway: Gateway) -> None:
    data = await gateway.data('{ __type(name: "Book") { fields { name } } }')
    fields = {f["name"] for f in data["__type"]["fields"]}
    assert "title" in fields and "shippingCost" in fields
    assert "internalCode" not in fields
    result = await gateway.post('{ book(id: "b1") { internalCode } }')
    assert result.data is None
    assert "internalCode" in result.errors[0]["message"]
    assert result.errors[0]["locations"] == [{"line": 1, "column": 20}]


async def test_introspection_beside_data(gateway: Gateway) -> None:
    result = await gateway.post(
        """{ book(id: "b1") { title }
             __type(name: "SearchResult") { kind possibleTypes { name } } __typename }"""
    )
    assert result.data == {
        "book": {"title": "The Quiet Harbor"},
        "__type": {"kind": "UNION", "possibleTypes": [{"name": "Book"}, {"name": "Author"}]},
        "__typename": "Query",
    }
    assert result.services() == ["books"]


async def test_interface_introspection_lists_implementations(gateway: Gateway) -> None:
    data = await gateway.data(
        '{ __type(name: "Holding") { kind fields { name } possibleTypes { name } } }'
    )
    assert data["__type"]["kind"] == "INTERFACE"
    assert {f["name"] for f in data["__type"]["fields"]} == {"id", "label", "timesBorrowed"}
    assert {t["name"] for t in data["__type"]["possibleTypes"]} == {"Book", "Magazine"}


async def test_interface_object_needs_two_fetches(gateway: Gateway) -> None:
    result = await gateway.post("{ popularHoldings { id timesBorrowed ... on Book { title } } }")
    assert result.data == {
        "popularHoldings": [
            {"id": "m1", "timesBorrowed": 25},
            {"id": "b1", "timesBorrowed": 12, "title": "The Quiet Harbor"},
        ]
    }
    assert result.services() == ["circulation", "books"]


async def test_separate_gateways_do_not_share_state(make_gateway: GatewayFactory) -> None:
    one, two = await make_gateway(), await make_gateway(supergraph="library-core")
    assert (await one.post("{ latestReviews { id } }")).data is not None
    core = await two.post("{ latestReviews { id } }")
    assert core.status == 200 and core.data is None
    assert core.errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
