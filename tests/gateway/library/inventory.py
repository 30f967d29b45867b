"""inventory: adds stock and shipping to Book (by `isbn` only) and owns Copy.

Features: @requires with fields owned by books, including a nested field of a value type
(`weightGrams publisher { country }`); @override of `pages`, progressive @override of
`format` (label "inventory-format") and of `edition` (label "percent(100)"); a nested key
(`Copy @key(fields: "book { isbn } number")`); a composite key on Branch (`city code`);
an entity that fails to resolve (isbn-4) and a nullable field that fails for isbn-3; a
mutation that records its start and end.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.federation.schema_directives import Override

from . import data


@strawberry.federation.type(shareable=True)
class Publisher:
    name: str
    country: str


@strawberry.federation.type(keys=["isbn"])
class Book:
    isbn: str
    # @external: only set when the gateway sends them in a representation (@requires)
    weight_grams: int = strawberry.federation.field(external=True, default=0)
    publisher: Publisher = strawberry.federation.field(
        external=True, default_factory=lambda: Publisher(name="", country="")
    )

    @strawberry.field
    def stock(self) -> int:
        return data.state().stock[self.isbn]

    @strawberry.field
    def location(self) -> str | None:
        if self.isbn == "isbn-3":
            raise ValueError("The shelf of isbn-3 is being moved.")
        return f"Shelf {self.isbn[-1]}"

    @strawberry.federation.field(requires=["weightGrams publisher { country }"])
    def shipping_cost(self) -> float:
        if not self.weight_grams or not self.publisher.country:
            raise ValueError("shippingCost needs weightGrams and publisher.country")
        domestic = self.publisher.country == "NO"
        return self.weight_grams / 100 + (0.0 if domestic else 5.0)

    @strawberry.federation.field(override="books")
    def pages(self) -> int | None:
        return data.BOOKS_BY_ISBN[self.isbn].pages

    @strawberry.federation.field(override=Override(override_from="books", label="inventory-format"))
    def format(self) -> str:
        return data.BOOKS_BY_ISBN[self.isbn].format

    @strawberry.federation.field(override=Override(override_from="books", label="percent(100)"))
    def edition(self) -> str:
        return data.BOOKS_BY_ISBN[self.isbn].edition

    @classmethod
    def resolve_reference(
        cls,
        isbn: str,
        weightGrams: int | None = None,
        publisher: dict[str, Any] | None = None,
    ) -> Book:
        if isbn not in data.state().stock:
            raise ValueError(f"No inventory record for {isbn}.")
        return Book(
            isbn=isbn,
            weight_grams=weightGrams or 0,
            publisher=Publisher(name="", country=(publisher or {}).get("country", "")),
        )


@strawberry.federation.type(keys=["city code"])
class Branch:
    city: str
    code: str

    @strawberry.field
    def copies_held(self) -> int:
        return sum(1 for c in data.COPIES if c.branch == (self.city, self.code))

    @classmethod
    def resolve_reference(cls, city: str, code: str) -> Branch:
        return Branch(city=city, code=code)


@strawberry.federation.type(keys=["book { isbn } number"])
class Copy:
    book: Book
    number: int
    condition: str
    branch: Branch

    @classmethod
    def resolve_reference(cls, book: dict[str, Any], number: int) -> Copy:
        for c in data.COPIES:
            if c.isbn == book["isbn"] and c.number == number:
                return copy(c)
        raise ValueError(f"No copy {number} of {book['isbn']}.")


def copy(c: data.CopyRecord) -> Copy:
    return Copy(
        book=Book(isbn=c.isbn),
        number=c.number,
        condition=c.condition,
        branch=Branch(city=c.branch[0], code=c.branch[1]),
    )


@strawberry.type
class Query:
    @strawberry.field
    def copies(self) -> list[Copy]:
        return [copy(c) for c in data.COPIES]


@strawberry.type
class StockChange:
    sequence: int
    book: Book
    stock: int


@strawberry.type
class Mutation:
    @strawberry.mutation
    def restock(self, isbn: str, amount: int) -> StockChange:
        state = data.state()
        seq = data.next_sequence()
        state.events.append(("inventory", "start", seq))
        state.stock[isbn] = state.stock.get(isbn, 0) + amount
        state.events.append(("inventory", "end", seq))
        return StockChange(sequence=seq, book=Book(isbn=isbn), stock=state.stock[isbn])


schema = strawberry.federation.Schema(query=Query, mutation=Mutation, types=[Book, Copy, Branch])
