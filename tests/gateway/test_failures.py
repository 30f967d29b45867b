"""A failing and a slow subgraph: partial data with errors, never a failed request.

Over HTTP a subgraph fails by answering 500, a body that is not JSON, JSON that is not a
GraphQL response, or by refusing the connection; in-process it raises. A slow subgraph
times out against a short client timeout."""

from __future__ import annotations

from .conftest import GatewayFactory
from .helpers import Subgraphs

HTTP_FAILURES = ("500", "garbage", "not-graphql", "refused")


def _modes(subgraphs: Subgraphs) -> tuple[str, ...]:
    return HTTP_FAILURES if subgraphs.transport == "http" else ("crash",)


async def test_failing_root_subgraph_gives_partial_data(
    subgraphs: Subgraphs, make_gateway: GatewayFactory
) -> None:
    for mode in _modes(subgraphs):
        gateway = await make_gateway(
            clients=subgraphs.clients(replace={"authors": subgraphs.failing(mode)})
        )
        result = await gateway.post('{ book(id: "b1") { title } authorsCount }')
        assert result.status == 200, mode
        assert result.data == {"book": {"title": "The Quiet Harbor"}, "authorsCount": None}, mode
        assert len(result.errors) == 1, (mode, result.errors)
        error = result.errors[0]
        assert error["extensions"]["serviceName"] == "authors"
        assert error["extensions"]["code"] == "SUBGRAPH_FETCH_FAILED"
        assert "authors" in error["message"]
        assert error["path"] == ["authorsCount"], mode


async def test_failing_entity_subgraph_gives_partial_data(
    subgraphs: Subgraphs, make_gateway: GatewayFactory
) -> None:
    for mode in _modes(subgraphs):
        gateway = await make_gateway(
            clients=subgraphs.clients(replace={"reviews": subgraphs.failing(mode)})
        )
        result = await gateway.post("{ books { title averageRating } }")
        assert result.status == 200, mode
        assert result.data == {
            "books": [
                {"title": "The Quiet Harbor", "averageRating": None},
                {"title": "Paper Moons", "averageRating": None},
                {"title": "Glass Rivers", "averageRating": None},
                {"title": "Salt and Stars", "averageRating": None},
            ]
        }, mode
        # one error for every field the failed fetch leaves null, at that field's path
        assert [(e["path"], e["extensions"]["serviceName"]) for e in result.errors] == [
            (["books", i, "averageRating"], "reviews") for i in range(4)
        ], mode


async def test_failing_entity_fetch_nulls_the_nearest_nullable_parent(
    subgraphs: Subgraphs, make_gateway: GatewayFactory
) -> None:
    for mode in _modes(subgraphs):
        gateway = await make_gateway(
            clients=subgraphs.clients(replace={"inventory": subgraphs.failing(mode)})
        )
        result = await gateway.post('{ book(id: "b1") { title stock } author(id: "a1") { name } }')
        assert result.status == 200, mode
        assert result.data == {"book": None, "author": {"name": "Ada Quill"}}, mode
        # the error names the non-null field the failed fetch left null; no second error
        # repeats the null's propagation up to the nullable `book`
        assert [(e["path"], e["extensions"]["serviceName"]) for e in result.errors] == [
            (["book", "stock"], "inventory")
        ], mode


async def test_one_failing_branch_leaves_the_other_branches(
    subgraphs: Subgraphs, make_gateway: GatewayFactory
) -> None:
    """The lending jump fails; the inventory fields and the books jump still arrive."""
    mode = _modes(subgraphs)[0]
    gateway = await make_gateway(
        clients=subgraphs.clients(replace={"lending": subgraphs.failing(mode)})
    )
    result = await gateway.post("{ copies { number condition dueBack book { title } } }")
    assert result.data == {
        "copies": [
            {
                "number": 1,
                "condition": "good",
                "dueBack": None,
                "book": {"title": "The Quiet Harbor"},
            },
            {
                "number": 2,
                "condition": "worn",
                "dueBack": None,
                "book": {"title": "The Quiet Harbor"},
            },
            {"number": 1, "condition": "new", "dueBack": None, "book": {"title": "Paper Moons"}},
        ]
    }
    # the lending fetch was to add `dueBack` to every copy
    assert [(e["path"], e["extensions"]["serviceName"]) for e in result.errors] == [
        (["copies", i, "dueBack"], "lending") for i in range(3)
    ]


async def test_slow_subgraph_times_out(subgraphs: Subgraphs, make_gateway: GatewayFactory) -> None:
    clients = subgraphs.clients(replace={"authors": subgraphs.client("authors", timeout=0.05)})
    gateway = await make_gateway(clients=clients)
    result = await gateway.post('{ book(id: "b2") { title } authorsCount(delayMs: 300) }')
    assert result.status == 200
    assert result.data == {"book": {"title": "Paper Moons"}, "authorsCount": None}
    [error] = result.errors
    assert error["extensions"] == {"code": "SUBGRAPH_TIMEOUT", "serviceName": "authors"}
    assert error["path"] == ["authorsCount"]


async def test_slow_entity_subgraph_times_out(
    subgraphs: Subgraphs, make_gateway: GatewayFactory
) -> None:
    """A timed-out entity fetch loses only its own fields."""
    clients = subgraphs.clients(replace={"reviews": subgraphs.client("reviews", timeout=0.05)})
    gateway = await make_gateway(clients=clients)
    result = await gateway.post('{ book(id: "b2") { title reviewCount(delayMs: 300) } }')
    assert result.data == {"book": {"title": "Paper Moons", "reviewCount": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in result.errors] == [
        (["book", "reviewCount"], "SUBGRAPH_TIMEOUT")
    ]
