"""Operation features through the gateway: fragments, aliases, variables, @skip/@include,
__typename, and root fields spread over several subgraphs. Every test runs with the
subgraphs in-process and over HTTP."""

from __future__ import annotations

from .helpers import Gateway


async def test_named_and_inline_fragments(gateway: Gateway) -> None:
    query = """
    query {
      book(id: "b1") { ...BookParts author { ... on Author { name born } } }
    }
    fragment BookParts on Book { title ... on Book { stock } }
    """
    assert await gateway.data(query) == {
        "book": {
            "title": "The Quiet Harbor",
            "stock": 3,
            "author": {"name": "Ada Quill", "born": 1950},
        }
    }


async def test_aliases_including_the_same_field_twice(gateway: Gateway) -> None:
    query = """
    {
      first: book(id: "b1") { name: title copies: stock }
      second: book(id: "b2") { name: title copies: stock few: reviews(minRating: 4) { rating }
                               all: reviews { rating } }
    }
    """
    assert await gateway.data(query) == {
        "first": {"name": "The Quiet Harbor", "copies": 3},
        "second": {"name": "Paper Moons", "copies": 0, "few": [], "all": [{"rating": 3}]},
    }


async def test_variables_with_defaults_reach_root_and_entity_fetches(gateway: Gateway) -> None:
    query = """
    query Reviewed($id: ID! = "b1", $min: Int = 5) {
      book(id: $id) { title reviews(minRating: $min) { reader rating } }
    }
    """
    assert await gateway.data(query) == {
        "book": {"title": "The Quiet Harbor", "reviews": [{"reader": "Reader One", "rating": 5}]}
    }
    assert await gateway.data(query, {"id": "b1", "min": 4}) == {
        "book": {
            "title": "The Quiet Harbor",
            "reviews": [
                {"reader": "Reader One", "rating": 5},
                {"reader": "Reader Three", "rating": 4},
            ],
        }
    }


async def test_skip_and_include_with_variables(gateway: Gateway) -> None:
    query = """
    query ($withStock: Boolean!, $hideTitle: Boolean!) {
      book(id: "b2") { title @skip(if: $hideTitle) stock @include(if: $withStock) isbn }
    }
    """
    both = await gateway.post(query, {"withStock": True, "hideTitle": False})
    assert both.data == {"book": {"title": "Paper Moons", "stock": 0, "isbn": "isbn-2"}}
    assert both.fetches == 2
    neither = await gateway.post(query, {"withStock": False, "hideTitle": True})
    assert neither.data == {"book": {"isbn": "isbn-2"}}
    assert neither.fetches == 1  # no jump to inventory for a skipped field


async def test_skip_on_fragments(gateway: Gateway) -> None:
    query = """
    query ($full: Boolean!) {
      book(id: "b1") { title ... @include(if: $full) { stock } ...More @skip(if: $full) }
    }
    fragment More on Book { isbn }
    """
    assert await gateway.data(query, {"full": True}) == {
        "book": {"title": "The Quiet Harbor", "stock": 3}
    }
    assert await gateway.data(query, {"full": False}) == {
        "book": {"title": "The Quiet Harbor", "isbn": "isbn-1"}
    }


async def test_typename_everywhere(gateway: Gateway) -> None:
    query = """
    { __typename
      book(id: "b1") { __typename author { __typename name } }
      search(term: "paper") { __typename }
      tn: __typename }
    """
    assert await gateway.data(query) == {
        "__typename": "Query",
        "book": {"__typename": "Book", "author": {"__typename": "Author", "name": "Ada Quill"}},
        "search": [{"__typename": "Book"}],
        "tn": "Query",
    }


async def test_typename_only_query_needs_no_subgraph(gateway: Gateway) -> None:
    result = await gateway.post("query ping { __typename }")
    assert result.data == {"__typename": "Query"}
    assert result.fetches == 0


async def test_root_fields_from_several_subgraphs(gateway: Gateway) -> None:
    query = """
    {
      books { id }
      authors { name }
      latestReviews { id }
      copies { number }
      branches { name }
      popularHoldings { id }
    }
    """
    result = await gateway.post(query)
    assert not result.errors
    assert result.data == {
        "books": [{"id": "b1"}, {"id": "b2"}, {"id": "b3"}, {"id": "b4"}],
        "authors": [{"name": "Ada Quill"}, {"name": "Ben Inkwell"}, {"name": "Cy Margin"}],
        "latestReviews": [{"id": "r1"}, {"id": "r2"}, {"id": "r3"}, {"id": "r4"}],
        "copies": [{"number": 1}, {"number": 2}, {"number": 1}],
        "branches": [{"name": "Harbour Branch"}, {"name": "Lakeside Branch"}],
        "popularHoldings": [{"id": "m1"}, {"id": "b1"}],
    }
    assert sorted(result.services()) == [
        "authors",
        "books",
        "circulation",
        "inventory",
        "lending",
        "reviews",
    ]
    assert list(result.data) == [
        "books",
        "authors",
        "latestReviews",
        "copies",
        "branches",
        "popularHoldings",
    ]


async def test_response_keys_follow_the_query_order(gateway: Gateway) -> None:
    data = await gateway.data('{ book(id: "b1") { stock title isbn averageRating id } }')
    assert list(data["book"]) == ["stock", "title", "isbn", "averageRating", "id"]


async def test_operation_name_selects_the_operation(gateway: Gateway) -> None:
    query = """
    query One { book(id: "b1") { title } }
    query Two { book(id: "b2") { title } }
    """
    result = await gateway.post(query, operation_name="Two")
    assert result.data == {"book": {"title": "Paper Moons"}}


async def test_null_root_field_is_not_an_error(gateway: Gateway) -> None:
    assert await gateway.data('{ book(id: "nope") { title stock } }') == {"book": None}


async def test_no_plan_in_extensions_without_the_header(gateway: Gateway) -> None:
    result = await gateway.post('{ book(id: "b1") { title } }', plan=False)
    assert result.body == {"data": {"book": {"title": "The Quiet Harbor"}}}
