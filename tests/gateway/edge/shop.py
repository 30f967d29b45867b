"""A small supergraph for the edge tests: products and reviews, in-process Strawberry."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.federation import Schema

from media_gateway.composition import SubgraphSource, compose

CALLS: dict[str, int] = {"products": 0, "reviews": 0}
SEEN_HEADERS: dict[str, list[dict[str, str]]] = {"products": [], "reviews": []}

_PRODUCTS = {str(i): {"name": f"Product {i}", "price": 10 * i} for i in range(1, 6)}


@strawberry.federation.type(keys=["id"])
class Product:
    id: strawberry.ID
    name: str
    price: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Product:
        p = _PRODUCTS[str(id)]
        return Product(id=id, name=p["name"], price=p["price"])


@strawberry.type
class ProductsQuery:
    @strawberry.field
    def products(self, first: int | None = None) -> list[Product]:
        CALLS["products"] += 1
        items = [
            Product(id=strawberry.ID(k), name=v["name"], price=v["price"])
            for k, v in _PRODUCTS.items()
        ]
        return items[:first] if first is not None else items

    @strawberry.field
    def product(self, id: strawberry.ID) -> Product | None:
        CALLS["products"] += 1
        p = _PRODUCTS.get(str(id))
        return Product(id=id, name=p["name"], price=p["price"]) if p else None


@strawberry.type
class Review:
    body: str
    stars: int


@strawberry.federation.type(keys=["id"], name="Product")
class ReviewedProduct:
    id: strawberry.ID

    @strawberry.field
    def reviews(self) -> list[Review]:
        return [Review(body=f"Review of {self.id}", stars=4)]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> ReviewedProduct:
        return ReviewedProduct(id=id)


@strawberry.type
class ReviewsQuery:
    @strawberry.field
    def latest_review(self) -> Review | None:
        CALLS["reviews"] += 1
        return Review(body="Latest", stars=5)


PRODUCTS = Schema(query=ProductsQuery)
REVIEWS = Schema(query=ReviewsQuery, types=[ReviewedProduct])


def supergraph() -> str:
    result = compose(
        [
            SubgraphSource("products", "http://products.test/graphql", PRODUCTS.as_str()),
            SubgraphSource("reviews", "http://reviews.test/graphql", REVIEWS.as_str()),
        ]
    )
    assert result.supergraph_sdl is not None, [str(e) for e in result.errors]
    return result.supergraph_sdl


class RecordingSchema:
    """Wraps a schema: counts executions and keeps the headers each fetch carried."""

    def __init__(self, name: str, schema: Any) -> None:
        self.name = name
        self.schema = schema

    async def execute(self, query: str, **kwargs: Any) -> Any:
        context = kwargs.get("context_value")
        if isinstance(context, dict):
            SEEN_HEADERS[self.name].append(dict(context))
        return await self.schema.execute(query, **kwargs)


def reset() -> None:
    for k in CALLS:
        CALLS[k] = 0
    for v in SEEN_HEADERS.values():
        v.clear()
