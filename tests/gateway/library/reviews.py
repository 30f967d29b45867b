"""reviews: owns Review and adds Book.reviews / Book.averageRating.

Features: @provides (`Review.book` provides the book's title, declared @external here), a
field argument with a default (`Book.reviews(minRating:)`), a field that fails for one
review (error paths), and a mutation that records its start and end (mutation order).
"""

from __future__ import annotations

import asyncio

import strawberry

from . import data


@strawberry.type
class Review:
    id: strawberry.ID
    rating: int
    body: str
    reader: str
    book_id: strawberry.Private[str]

    @strawberry.federation.field(provides=["title"])
    def book(self) -> Book:
        return book(self.book_id)

    @strawberry.field
    def moderator_note(self) -> str | None:
        if self.id == "r2":
            raise ValueError("The moderator note of r2 is sealed.")
        return None


@strawberry.federation.type(keys=["id"])
class Book:
    id: strawberry.ID
    title: str = strawberry.federation.field(external=True)

    @strawberry.field
    def reviews(self, min_rating: int = 0) -> list[Review]:
        return [
            review(r.id)
            for r in data.state().reviews.values()
            if r.book_id == self.id and r.rating >= min_rating
        ]

    @strawberry.field
    def average_rating(self) -> float | None:
        ratings = [r.rating for r in data.state().reviews.values() if r.book_id == self.id]
        return sum(ratings) / len(ratings) if ratings else None

    @strawberry.field
    async def review_count(self, delay_ms: int = 0) -> int | None:
        await data.slow("reviewCount", delay_ms)
        return sum(1 for r in data.state().reviews.values() if r.book_id == self.id)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Book:
        return book(id)


def book(book_id: str) -> Book:
    # the title is known here only to honour @provides on Review.book
    return Book(id=strawberry.ID(book_id), title=data.BOOKS[book_id].title)


def review(review_id: str) -> Review:
    r = data.state().reviews[review_id]
    return Review(
        id=strawberry.ID(r.id), rating=r.rating, body=r.body, reader=r.reader, book_id=r.book_id
    )


@strawberry.type
class Query:
    @strawberry.field
    def latest_reviews(self) -> list[Review]:
        return [review(i) for i in data.state().reviews]


@strawberry.type
class NewReview:
    sequence: int
    review: Review


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def add_review(self, book_id: strawberry.ID, rating: int, body: str) -> NewReview:
        state = data.state()
        seq = data.next_sequence()
        state.events.append(("reviews", "start", seq))
        await asyncio.sleep(0.02)  # a mutation run concurrently would interleave here
        review_id = f"r{len(state.reviews) + 1}"
        state.reviews[review_id] = data.ReviewRecord(review_id, book_id, rating, body, "Reader One")
        state.events.append(("reviews", "end", seq))
        return NewReview(sequence=seq, review=review(review_id))


schema = strawberry.federation.Schema(query=Query, mutation=Mutation, types=[Book])
