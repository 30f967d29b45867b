"""The committed supergraph fixtures: composed from the library's Strawberry subgraphs, and
loadable by the gateway."""

from __future__ import annotations

import pytest

from media_gateway.composition import SubgraphSource, compose
from media_gateway.gateway.supergraph import Supergraph

from .helpers import FIXTURES, check_text, supergraph_sdl
from .library import CORE, SUBGRAPHS

SUPERGRAPHS = {"library": tuple(SUBGRAPHS), "library-core": CORE}


@pytest.mark.parametrize("name", sorted(SUPERGRAPHS))
def test_fixture_is_the_composition_of_the_subgraphs(name: str) -> None:
    """Regenerate with MEDIA_GATEWAY_UPDATE_SNAPSHOTS=1 after changing a subgraph."""
    result = compose(
        [
            SubgraphSource(n, f"http://{n}.library.test/graphql", SUBGRAPHS[n].as_str())
            for n in SUPERGRAPHS[name]
        ]
    )
    assert result.ok, [str(e) for e in result.errors]
    assert result.supergraph_sdl is not None
    check_text(FIXTURES / f"{name}.graphql", result.supergraph_sdl)


def test_join_metadata_of_the_library() -> None:
    sg = Supergraph(supergraph_sdl("library"))
    assert {g.name for g in sg.graphs.values()} == set(SUBGRAPHS)
    book = sg.types["Book"]
    assert {k.fields for k in book.keys["BOOKS"]} == {"id", "isbn"}
    assert [k.resolvable for k in book.keys["AUTHORS"]] == [False]
    assert sg.types["Holding"].interface_object_in == {"CIRCULATION"}
    shipping = sg.types["Book"].fields["shippingCost"]
    assert shipping[0].requires == "weightGrams publisher { country }"
    fmt = {e.graph: e for e in sg.types["Book"].fields["format"]}
    assert fmt["INVENTORY"].override == "books"
    assert fmt["INVENTORY"].override_label == "inventory-format"


def test_join_v05_directive_definition_is_machinery() -> None:
    """join v0.5 declares @join__directive over join__Graph: both leave the API schema."""
    raw = supergraph_sdl("library")
    assert "directive @join__directive(" in raw
    sg = Supergraph(raw)
    assert sg.api_schema.get_directive("join__directive") is None
    assert "join__Graph" not in sg.api_schema.type_map
