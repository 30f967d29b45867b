"""search: a union whose members are owned by two other subgraphs.

`search(term:)` answers only keys; the gateway fetches the members' fields from books and
authors.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from . import data


@strawberry.federation.type(keys=["id"])
class Book:
    id: strawberry.ID


@strawberry.federation.type(keys=["id"])
class Author:
    id: strawberry.ID


SearchResult = Annotated[Book | Author, strawberry.union("SearchResult")]


@strawberry.type
class Query:
    @strawberry.field
    def search(self, term: str) -> list[SearchResult]:
        term = term.lower()
        found: list[Book | Author] = []
        for b in data.BOOKS.values():
            if term in b.title.lower():
                found.append(Book(id=strawberry.ID(b.id)))
        for a in data.AUTHORS.values():
            if term in a.name.lower():
                found.append(Author(id=strawberry.ID(a.id)))
        return found


schema = strawberry.federation.Schema(query=Query, types=[Book, Author])
