"""Federation features through the gateway: entity jumps over several, composite and nested
keys, @requires, @provides, @external, @shareable, @override (plain and progressive),
@interfaceObject and entity interfaces, unions with members in other subgraphs, value types
and non-resolvable keys. Every test runs with the subgraphs in-process and over HTTP."""

from __future__ import annotations

from media_gateway.gateway.pipeline import GraphQLRequest, GraphQLResponse, Pipeline
from media_gateway.gateway.router import Router
from media_gateway.gateway.supergraph import Supergraph

from .conftest import GatewayFactory
from .helpers import Gateway, Subgraphs, supergraph_sdl


async def test_jump_by_the_key_the_target_knows(gateway: Gateway) -> None:
    """reviews knows a book by `id`, inventory only by `isbn`: books translates."""
    result = await gateway.post("{ latestReviews { id book { stock } } }")
    assert result.data == {
        "latestReviews": [
            {"id": "r1", "book": {"stock": 3}},
            {"id": "r2", "book": {"stock": 0}},
            {"id": "r3", "book": {"stock": 3}},
            {"id": "r4", "book": {"stock": 1}},
        ]
    }
    assert result.services() == ["reviews", "books", "inventory"]


async def test_jump_from_either_key(gateway: Gateway) -> None:
    by_isbn = await gateway.data('{ bookByIsbn(isbn: "isbn-2") { title averageRating } }')
    assert by_isbn == {"bookByIsbn": {"title": "Paper Moons", "averageRating": 3.0}}


async def test_two_hops_from_a_key_the_source_knows(gateway: Gateway) -> None:
    """inventory knows a book by isbn; reviews by id: books translates."""
    result = await gateway.post("{ copies { book { averageRating } } }")
    assert result.data == {
        "copies": [
            {"book": {"averageRating": 4.5}},
            {"book": {"averageRating": 4.5}},
            {"book": {"averageRating": 3.0}},
        ]
    }
    assert result.services() == ["inventory", "books", "reviews"]


async def test_fields_from_two_subgraphs_behind_a_key_translation(gateway: Gateway) -> None:
    result = await gateway.post("{ copies { book { title averageRating } } }")
    assert result.data == {
        "copies": [
            {"book": {"title": "The Quiet Harbor", "averageRating": 4.5}},
            {"book": {"title": "The Quiet Harbor", "averageRating": 4.5}},
            {"book": {"title": "Paper Moons", "averageRating": 3.0}},
        ]
    }


async def test_composite_key(gateway: Gateway) -> None:
    """Branch @key(fields: "city code"): inventory -> lending and lending -> inventory."""
    assert await gateway.data("{ copies { branch { city name copiesHeld } } }") == {
        "copies": [
            {"branch": {"city": "Oslo", "name": "Harbour Branch", "copiesHeld": 2}},
            {"branch": {"city": "Oslo", "name": "Harbour Branch", "copiesHeld": 2}},
            {"branch": {"city": "Toronto", "name": "Lakeside Branch", "copiesHeld": 1}},
        ]
    }
    assert await gateway.data("{ branches { code copiesHeld } }") == {
        "branches": [{"code": "N1", "copiesHeld": 2}, {"code": "T1", "copiesHeld": 1}]
    }


async def test_nested_key(gateway: Gateway) -> None:
    """Copy @key(fields: "book { isbn } number") in both directions."""
    assert await gateway.data("{ copies { number condition onLoan dueBack } }") == {
        "copies": [
            {"number": 1, "condition": "good", "onLoan": False, "dueBack": None},
            {"number": 2, "condition": "worn", "onLoan": True, "dueBack": "2030-01-15"},
            {"number": 1, "condition": "new", "onLoan": False, "dueBack": None},
        ]
    }
    data = await gateway.data("{ loans { reader copy { condition book { title stock } } } }")
    assert data == {
        "loans": [
            {
                "reader": "Reader Two",
                "copy": {"condition": "worn", "book": {"title": "The Quiet Harbor", "stock": 3}},
            }
        ]
    }


async def test_requires_from_another_subgraph(gateway: Gateway) -> None:
    result = await gateway.post('{ book(id: "b2") { shippingCost } }')
    assert result.data == {"book": {"shippingCost": 7.5}}
    assert result.services() == ["books", "inventory"]


async def test_requires_fetched_from_a_third_subgraph(gateway: Gateway) -> None:
    """The review comes from reviews, the required weight and country from books, the cost
    from inventory; none of the required fields leaks into the response."""
    result = await gateway.post("{ latestReviews { book { shippingCost } } }")
    assert result.data == {
        "latestReviews": [
            {"book": {"shippingCost": 4.0}},
            {"book": {"shippingCost": 7.5}},
            {"book": {"shippingCost": 4.0}},
            {"book": {"shippingCost": 6.0}},
        ]
    }
    assert result.services() == ["reviews", "books", "inventory"]


async def test_requires_beside_the_required_fields(gateway: Gateway) -> None:
    data = await gateway.data(
        '{ book(id: "b3") { weightGrams shippingCost publisher { country } } }'
    )
    assert data == {
        "book": {"weightGrams": 600, "shippingCost": 6.0, "publisher": {"country": "NO"}}
    }


async def test_provides_saves_a_jump(gateway: Gateway) -> None:
    result = await gateway.post("{ latestReviews { book { title } } }")
    assert result.data["latestReviews"][0] == {"book": {"title": "The Quiet Harbor"}}
    assert result.fetches == 1
    # a field it does not provide needs the jump
    more = await gateway.post("{ latestReviews { book { title isbn } } }")
    assert more.data["latestReviews"][1] == {"book": {"title": "Paper Moons", "isbn": "isbn-2"}}
    assert more.services() == ["reviews", "books"]


async def test_external_field_is_fetched_from_its_owner(gateway: Gateway) -> None:
    """Book.title is @external in reviews; without @provides it comes from books."""
    result = await gateway.post("{ latestReviews { book { reviews { book { id } } } } }")
    assert not result.errors
    data = await gateway.data('{ book(id: "b3") { reviews { body book { title } } } }')
    assert data == {
        "book": {"reviews": [{"body": "Too long for me.", "book": {"title": "Glass Rivers"}}]}
    }


async def test_shareable_field_taken_from_the_subgraph_at_hand(gateway: Gateway) -> None:
    """Author.name lives in books and authors: no jump for it from a book."""
    result = await gateway.post('{ book(id: "b1") { author { name } } }')
    assert result.data == {"book": {"author": {"name": "Ada Quill"}}}
    assert result.services() == ["books"]
    also_born = await gateway.post('{ book(id: "b1") { author { name born } } }')
    assert also_born.data == {"book": {"author": {"name": "Ada Quill", "born": 1950}}}
    assert also_born.services() == ["books", "authors"]
    from_authors = await gateway.post('{ author(id: "a2") { name } }')
    assert from_authors.services() == ["authors"]


async def test_value_type_resolved_by_the_subgraph_at_hand(gateway: Gateway) -> None:
    result = await gateway.post('{ book(id: "b2") { publisher { name country } } }')
    assert result.data == {"book": {"publisher": {"name": "Lake House", "country": "CA"}}}
    assert result.fetches == 1


async def test_override_moves_the_field(gateway: Gateway) -> None:
    """Book.pages is overridden by inventory (books answers -1)."""
    result = await gateway.post("{ books { pages } }")
    assert result.data == {
        "books": [{"pages": 320}, {"pages": 180}, {"pages": 512}, {"pages": None}]
    }
    assert result.services() == ["books", "inventory"]


async def test_progressive_override_follows_the_label(make_gateway: GatewayFactory) -> None:
    """Book.format moves to inventory only when the label "inventory-format" is in force."""
    query = '{ book(id: "b3") { format } }'
    before = await (await make_gateway()).post(query)
    assert before.data == {"book": {"format": "unknown (books)"}}
    assert before.services() == ["books"]
    after = await (await make_gateway(override_labels=("inventory-format",))).post(query)
    assert after.data == {"book": {"format": "hardcover"}}
    assert after.services() == ["books", "inventory"]


async def test_progressive_override_percent_100(gateway: Gateway) -> None:
    result = await gateway.post('{ book(id: "b1") { edition } }')
    assert result.data == {"book": {"edition": "second"}}


async def test_override_labels_on_the_router(subgraphs: Subgraphs) -> None:
    sg = Supergraph(supergraph_sdl("library"))
    query = '{ book(id: "b1") { format } }'

    async def run(router: Router) -> GraphQLResponse:
        request = GraphQLRequest({"query": query}, {}, {})
        return await Pipeline.for_router(router).handle(request)

    plain = await run(Router(sg, subgraphs.clients()))
    labelled = await run(Router(sg, subgraphs.clients(), override_labels=["inventory-format"]))
    assert plain.body == {"data": {"book": {"format": "unknown (books)"}}}
    assert labelled.body == {"data": {"book": {"format": "paperback"}}}


async def test_interface_object_field_on_an_entity_interface(gateway: Gateway) -> None:
    data = await gateway.data(
        "{ shelf { __typename id label timesBorrowed ... on Magazine { issue } } }"
    )
    assert data == {
        "shelf": [
            {
                "__typename": "Book",
                "id": "b1",
                "label": "Book: The Quiet Harbor",
                "timesBorrowed": 12,
            },
            {"__typename": "Book", "id": "b2", "label": "Book: Paper Moons", "timesBorrowed": 3},
            {"__typename": "Book", "id": "b3", "label": "Book: Glass Rivers", "timesBorrowed": 7},
            {"__typename": "Book", "id": "b4", "label": "Book: Salt and Stars", "timesBorrowed": 0},
            {
                "__typename": "Magazine",
                "id": "m1",
                "label": "Magazine: Reading Room Monthly",
                "timesBorrowed": 25,
                "issue": 42,
            },
        ]
    }


async def test_interface_object_root_learns_concrete_types(gateway: Gateway) -> None:
    """circulation knows only the interface; the concrete type comes from books."""
    data = await gateway.data(
        """{ popularHoldings { __typename id timesBorrowed
             ... on Book { title stock } ... on Magazine { issue } } }"""
    )
    assert data == {
        "popularHoldings": [
            {"__typename": "Magazine", "id": "m1", "timesBorrowed": 25, "issue": 42},
            {
                "__typename": "Book",
                "id": "b1",
                "timesBorrowed": 12,
                "title": "The Quiet Harbor",
                "stock": 3,
            },
        ]
    }


async def test_interface_object_root_field_alone(gateway: Gateway) -> None:
    result = await gateway.post("{ popularHoldings { id timesBorrowed } }")
    assert result.data == {
        "popularHoldings": [{"id": "m1", "timesBorrowed": 25}, {"id": "b1", "timesBorrowed": 12}]
    }
    assert result.fetches == 1


async def test_union_members_resolved_in_their_own_subgraphs(gateway: Gateway) -> None:
    query = """
    query ($term: String!) {
      search(term: $term) {
        __typename
        ... on Book { title author { born } }
        ... on Author { name books { title } }
      }
    }
    """
    result = await gateway.post(query, {"term": "ar"})
    assert not result.errors
    assert result.data == {
        "search": [
            {"__typename": "Book", "title": "The Quiet Harbor", "author": {"born": 1950}},
            {"__typename": "Book", "title": "Salt and Stars", "author": {"born": 1978}},
            {"__typename": "Author", "name": "Cy Margin", "books": [{"title": "Salt and Stars"}]},
        ]
    }
    assert set(result.services()) == {"search", "books", "authors"}


async def test_union_member_not_selected_is_not_fetched(gateway: Gateway) -> None:
    result = await gateway.post('{ search(term: "a") { ... on Author { born } } }')
    assert result.data == {"search": [{}, {}, {}, {}, {"born": 1950}, {"born": 1978}]}
    assert result.services() == ["search", "authors"]


async def test_non_resolvable_key_is_never_a_jump_target(gateway: Gateway) -> None:
    """authors and lending point at books with `resolvable: false` keys; the books' fields
    come from books."""
    result = await gateway.post('{ author(id: "a1") { books { id title isbn } } }')
    assert result.data == {
        "author": {
            "books": [
                {"id": "b1", "title": "The Quiet Harbor", "isbn": "isbn-1"},
                {"id": "b3", "title": "Glass Rivers", "isbn": "isbn-3"},
            ]
        }
    }
    assert result.services() == ["authors", "books"]
    assert "lending" not in (await gateway.post("{ books { isbn title stock } }")).services()
