"""books: owns Book (keys `id` and `isbn`), Magazine and the entity interface Holding.

Features: several keys on one entity, an entity interface (`Holding @key(fields: "id")`), a
shareable value type (Publisher), a shareable field also resolved elsewhere (Author.name),
an @inaccessible field, fields later taken over by @override in inventory, and a slow root
field for the timing tests.
"""

from __future__ import annotations

import strawberry

from . import data


@strawberry.federation.type(shareable=True)
class Publisher:
    name: str
    country: str


@strawberry.federation.type(keys=["id"])
class Author:
    id: strawberry.ID
    name: str = strawberry.federation.field(shareable=True)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Author:
        return author(id)


def author(author_id: str) -> Author:
    record = data.AUTHORS[author_id]
    return Author(id=strawberry.ID(record.id), name=record.name)


@strawberry.federation.interface(keys=["id"])
class Holding:
    id: strawberry.ID
    label: str

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Holding:
        return holding(id)


@strawberry.federation.type(keys=["id", "isbn"])
class Book(Holding):
    isbn: str
    title: str = strawberry.federation.field(shareable=True)
    weight_grams: int
    publisher: Publisher
    internal_code: str | None = strawberry.federation.field(inaccessible=True)
    # taken over by inventory (@override); books' own answers are stale on purpose
    pages: int | None
    format: str
    edition: str
    author_id: strawberry.Private[str]

    @strawberry.field
    def author(self) -> Author:
        return author(self.author_id)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID | None = None, isbn: str | None = None) -> Book:
        record = data.BOOKS[id] if id is not None else data.BOOKS_BY_ISBN[str(isbn)]
        return book(record.id)


@strawberry.federation.type(keys=["id"])
class Magazine(Holding):
    issue: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Magazine:
        return magazine(id)


def book(book_id: str) -> Book:
    r = data.BOOKS[book_id]
    return Book(
        id=strawberry.ID(r.id),
        label=f"Book: {r.title}",
        isbn=r.isbn,
        title=r.title,
        weight_grams=r.weight_grams,
        publisher=Publisher(name=r.publisher[0], country=r.publisher[1]),
        internal_code=f"INT-{r.id}",
        pages=-1,
        format="unknown (books)",
        edition="unknown (books)",
        author_id=r.author_id,
    )


def magazine(magazine_id: str) -> Magazine:
    m = data.MAGAZINES[magazine_id]
    return Magazine(id=strawberry.ID(m.id), label=f"Magazine: {m.title}", issue=m.issue)


def holding(holding_id: str) -> Holding:
    return magazine(holding_id) if holding_id in data.MAGAZINES else book(holding_id)


@strawberry.type
class Query:
    @strawberry.field
    def books(self) -> list[Book]:
        return [book(i) for i in data.BOOKS]

    @strawberry.field(name="book")
    def book_by_id(self, id: strawberry.ID) -> Book | None:
        return book(id) if id in data.BOOKS else None

    @strawberry.field
    def book_by_isbn(self, isbn: str) -> Book | None:
        record = data.BOOKS_BY_ISBN.get(isbn)
        return book(record.id) if record else None

    @strawberry.field
    def shelf(self) -> list[Holding]:
        return [*(book(i) for i in data.BOOKS), *(magazine(i) for i in data.MAGAZINES)]

    @strawberry.field
    async def books_count(self, delay_ms: int = 0) -> int | None:
        await data.slow("booksCount", delay_ms)
        return len(data.BOOKS)


schema = strawberry.federation.Schema(query=Query, types=[Book, Magazine, Author])
