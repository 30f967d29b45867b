"""authors: owns Author (its `name` is shareable with books).

Features: a non-resolvable key (`Book @key(fields: "id", resolvable: false)`: authors can
point at books but cannot be asked for them) and a slow, nullable root field.
"""

from __future__ import annotations

import strawberry
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from . import data


@strawberry.federation.type(keys=[Key(fields=FieldSet("id"), resolvable=False)])
class Book:
    id: strawberry.ID


@strawberry.federation.type(keys=["id"])
class Author:
    id: strawberry.ID
    name: str = strawberry.federation.field(shareable=True)
    born: int

    @strawberry.field
    def books(self) -> list[Book]:
        return [Book(id=strawberry.ID(b.id)) for b in data.BOOKS.values() if b.author_id == self.id]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Author:
        return author(id)


def author(author_id: str) -> Author:
    r = data.AUTHORS[author_id]
    return Author(id=strawberry.ID(r.id), name=r.name, born=r.born)


@strawberry.type
class Query:
    @strawberry.field
    def authors(self) -> list[Author]:
        return [author(i) for i in data.AUTHORS]

    @strawberry.field(name="author")
    def author_by_id(self, id: strawberry.ID) -> Author | None:
        return author(id) if id in data.AUTHORS else None

    @strawberry.field
    async def authors_count(self, delay_ms: int = 0) -> int | None:
        await data.slow("authorsCount", delay_ms)
        return len(data.AUTHORS)


schema = strawberry.federation.Schema(query=Query, types=[Author, Book])
