"""A tiny library (books, authors, reviews, inventory, lending, circulation, search): seven small
Strawberry Federation v2 subgraphs used to test the gateway.

The domain is deliberately small and neutral; every federation feature the gateway supports
appears in at least one subgraph (see each module's docstring).
"""

from __future__ import annotations

from typing import Any

from . import authors, books, circulation, inventory, lending, reviews, search

SUBGRAPHS: dict[str, Any] = {
    "authors": authors.schema,
    "books": books.schema,
    "circulation": circulation.schema,
    "inventory": inventory.schema,
    "lending": lending.schema,
    "reviews": reviews.schema,
    "search": search.schema,
}

# the subgraphs of the smaller "core" supergraph (used to test supergraph swaps)
CORE = ("authors", "books")

__all__ = ["CORE", "SUBGRAPHS"]
