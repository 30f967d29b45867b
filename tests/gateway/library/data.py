"""The library's records and the observable state shared by the subgraphs.

`EVENTS` records every mutation (to check that mutations run one after another) and
`TIMELINE` records when slow fields start and finish (to check that independent fetches
overlap). `reset()` restores everything; the test suite calls it before each test.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuthorRecord:
    id: str
    name: str
    born: int


@dataclass(frozen=True)
class BookRecord:
    id: str
    isbn: str
    title: str
    author_id: str
    weight_grams: int
    publisher: tuple[str, str]  # (name, country)
    pages: int
    format: str
    edition: str


@dataclass(frozen=True)
class MagazineRecord:
    id: str
    title: str
    issue: int


@dataclass(frozen=True)
class ReviewRecord:
    id: str
    book_id: str
    rating: int
    body: str
    reader: str


@dataclass(frozen=True)
class CopyRecord:
    isbn: str
    number: int
    condition: str
    branch: tuple[str, str]  # (city, code)


AUTHORS = {
    a.id: a
    for a in (
        AuthorRecord("a1", "Ada Quill", 1950),
        AuthorRecord("a2", "Ben Inkwell", 1962),
        AuthorRecord("a3", "Cy Margin", 1978),
    )
}

BOOKS = {
    b.id: b
    for b in (
        BookRecord(
            "b1",
            "isbn-1",
            "The Quiet Harbor",
            "a1",
            400,
            ("North Press", "NO"),
            320,
            "paperback",
            "second",
        ),
        BookRecord(
            "b2",
            "isbn-2",
            "Paper Moons",
            "a2",
            250,
            ("Lake House", "CA"),
            180,
            "paperback",
            "first",
        ),
        BookRecord(
            "b3",
            "isbn-3",
            "Glass Rivers",
            "a1",
            600,
            ("North Press", "NO"),
            512,
            "hardcover",
            "first",
        ),
        BookRecord(
            "b4",
            "isbn-4",
            "Salt and Stars",
            "a3",
            300,
            ("Lake House", "CA"),
            240,
            "paperback",
            "third",
        ),
    )
}
BOOKS_BY_ISBN = {b.isbn: b for b in BOOKS.values()}

MAGAZINES = {m.id: m for m in (MagazineRecord("m1", "Reading Room Monthly", 42),)}

REVIEWS = {
    r.id: r
    for r in (
        ReviewRecord("r1", "b1", 5, "A calm, lovely read.", "Reader One"),
        ReviewRecord("r2", "b2", 3, "Uneven but bright.", "Reader Two"),
        ReviewRecord("r3", "b1", 4, "Quiet and wise.", "Reader Three"),
        ReviewRecord("r4", "b3", 2, "Too long for me.", "Reader One"),
    )
}

COPIES = (
    CopyRecord("isbn-1", 1, "good", ("Oslo", "N1")),
    CopyRecord("isbn-1", 2, "worn", ("Oslo", "N1")),
    CopyRecord("isbn-2", 1, "new", ("Toronto", "T1")),
)

BRANCHES = {("Oslo", "N1"): "Harbour Branch", ("Toronto", "T1"): "Lakeside Branch"}

LOANS = {("isbn-1", 2): ("Reader Two", "2030-01-15")}

TIMES_BORROWED = {"b1": 12, "b2": 3, "b3": 7, "b4": 0, "m1": 25}

INITIAL_STOCK = {"isbn-1": 3, "isbn-2": 0, "isbn-3": 1}


@dataclass
class State:
    stock: dict[str, int] = field(default_factory=lambda: dict(INITIAL_STOCK))
    reviews: dict[str, ReviewRecord] = field(default_factory=lambda: dict(REVIEWS))
    # (subgraph, what, sequence); a mutation appends "start" and "end"
    events: list[tuple[str, str, int]] = field(default_factory=list)
    sequence: int = 0
    # (field, start, end) for each slow field resolved
    timeline: list[tuple[str, float, float]] = field(default_factory=list)


STATE = State()


def reset() -> None:
    global STATE
    STATE = State()


def state() -> State:
    return STATE


def next_sequence() -> int:
    STATE.sequence += 1
    return STATE.sequence


async def slow(field_name: str, delay_ms: int) -> None:
    """Sleep for `delay_ms` and record the interval in the timeline."""
    start = time.monotonic()
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)
    STATE.timeline.append((field_name, start, time.monotonic()))
