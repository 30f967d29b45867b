"""lending: adds loan status to Copy (nested key) and owns Branch.name (composite key).

Features: a nested key, a composite key, a non-resolvable key
(`Book @key(fields: "isbn", resolvable: false)`), and a plain value type (Loan).
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from . import data


@strawberry.federation.type(keys=[Key(fields=FieldSet("isbn"), resolvable=False)])
class Book:
    isbn: str


@strawberry.federation.type(keys=["book { isbn } number"])
class Copy:
    book: Book
    number: int

    @strawberry.field
    def on_loan(self) -> bool:
        return (self.book.isbn, self.number) in data.LOANS

    @strawberry.field
    def due_back(self) -> str | None:
        loan = data.LOANS.get((self.book.isbn, self.number))
        return loan[1] if loan else None

    @classmethod
    def resolve_reference(cls, book: dict[str, Any], number: int) -> Copy:
        return Copy(book=Book(isbn=book["isbn"]), number=number)


@strawberry.federation.type(keys=["city code"])
class Branch:
    city: str
    code: str

    @strawberry.field
    def name(self) -> str:
        return data.BRANCHES[(self.city, self.code)]

    @classmethod
    def resolve_reference(cls, city: str, code: str) -> Branch:
        return Branch(city=city, code=code)


@strawberry.type
class Loan:
    copy: Copy
    reader: str


@strawberry.type
class Query:
    @strawberry.field
    def loans(self) -> list[Loan]:
        return [
            Loan(copy=Copy(book=Book(isbn=isbn), number=number), reader=reader)
            for (isbn, number), (reader, _due) in data.LOANS.items()
        ]

    @strawberry.field
    def branches(self) -> list[Branch]:
        return [Branch(city=city, code=code) for city, code in data.BRANCHES]


schema = strawberry.federation.Schema(query=Query, types=[Copy, Branch, Book])
