"""Import MovieLens-100K (RecBole atomic files) from a path: titles, genres, years, and the
users' ratings as watch history and recommendation feedback.

The data set's terms forbid redistribution: it is read from wherever the operator keeps it
and never shipped with the product.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import insert
from tqdm import tqdm

from media_gateway.storage.database import Database
from media_gateway.subgraphs.catalog.models import ContentRecord
from media_gateway.subgraphs.catalog.text import content_id, fold
from media_gateway.subgraphs.catalog.titles import TitleService
from media_gateway.subgraphs.playback.models import WatchEventRecord
from media_gateway.subgraphs.recommendations.models import InteractionRecord

SOURCE = "movielens"
USER_PREFIX = "movielens-"
GENRES = {
    "Action": "Action",
    "Adventure": "Adventure",
    "Animation": "Animation",
    "Children's": "Family",
    "Comedy": "Comedy",
    "Crime": "Crime",
    "Documentary": "Documentary",
    "Drama": "Drama",
    "Fantasy": "Fantasy",
    "Film-Noir": "Crime",
    "Horror": "Horror",
    "Musical": "Music",
    "Mystery": "Mystery",
    "Romance": "Romance",
    "Sci-Fi": "Science Fiction",
    "Thriller": "Thriller",
    "War": "War",
    "Western": "Western",
}
_TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)$"
)
CHUNK = 5000

T = TypeVar("T")


@dataclass(frozen=True)
class ImportSummary:
    titles_added: int
    titles_known: int
    users: int
    ratings: int


class MovieLensFormatError(Exception):
    pass


def display_title(raw: str) -> str:
    """'Usual Suspects, The' -> 'The Usual Suspects' (alternate titles in parentheses kept)."""
    main, sep, rest = raw.partition(" (")
    match = _TRAILING_ARTICLE.match(main.strip())
    if match:
        article = match["article"]
        joiner = "" if article.endswith("'") else " "
        main = f"{article}{joiner}{match['body']}"
    return f"{main}{sep}{rest}".strip()


def _read(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise MovieLensFormatError(f"{path.name} is empty")
        names = [column.split(":", 1)[0] for column in header]
        for row in reader:
            if row:
                yield dict(zip(names, row, strict=False))


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def import_movielens(
    database: Database,
    path: Path,
    *,
    progress: bool = True,
    report: Callable[[str], Any] = print,
) -> ImportSummary:
    """Load MovieLens-100K from ``path`` (a folder with ml-100k.item and ml-100k.inter)."""
    items_file, ratings_file = path / "ml-100k.item", path / "ml-100k.inter"
    for required in (items_file, ratings_file):
        if not required.is_file():
            raise MovieLensFormatError(f"{required.name} not found in the given folder")

    catalog = TitleService(database)
    item_ids: dict[str, str] = {}
    titles: list[tuple[ContentRecord, list[str]]] = []
    for row in tqdm(list(_read(items_file)), desc="titles", unit="title", disable=not progress):
        year_text = (row.get("release_year") or "").strip()
        year = int(year_text) if year_text.isdigit() else None
        title = display_title(row.get("movie_title") or "Untitled")
        identifier = content_id("movie", title, year)
        item_ids[row["item_id"]] = identifier
        genres = [GENRES[g] for g in (row.get("class") or "").split() if g in GENRES]
        titles.append(
            (
                ContentRecord(
                    id=identifier,
                    kind="movie",
                    title=title,
                    title_search=fold(title),
                    year=year,
                    popularity=0.0,
                ),
                genres,
            )
        )
    unique = list({record.id: (record, genres) for record, genres in titles}.values())
    added = await catalog.upsert_titles(unique)

    ratings = list(_read(ratings_file))
    history: list[dict[str, Any]] = []
    interactions: list[dict[str, Any]] = []
    users: set[str] = set()
    for row in ratings:
        known_id = item_ids.get(row["item_id"])
        if known_id is None:
            continue
        user_id = USER_PREFIX + row["user_id"]
        users.add(user_id)
        rating = float(row["rating"])
        when = datetime.fromtimestamp(float(row["timestamp"]), UTC)
        history.append(
            {
                "user_id": user_id,
                "content_id": known_id,
                "watched_at": when,
                "position_seconds": 0,
                "duration_seconds": None,
                "completed": True,
                "rating": rating,
                "source": SOURCE,
            }
        )
        interactions.append(
            {
                "user_id": user_id,
                "content_id": known_id,
                "weight": 1.0 if rating >= 4 else 0.5 if rating >= 3 else 0.2,
                "occurred_at": when,
                "source": SOURCE,
            }
        )

    async with database.transaction() as session:
        from sqlmodel import col, delete

        await session.exec(delete(WatchEventRecord).where(col(WatchEventRecord.source) == SOURCE))
        await session.exec(delete(InteractionRecord).where(col(InteractionRecord.source) == SOURCE))
    bar = tqdm(total=len(history), desc="ratings", unit="rating", disable=not progress)
    for chunk_history, chunk_interactions in zip(
        _chunks(history, CHUNK), _chunks(interactions, CHUNK), strict=True
    ):
        async with database.transaction() as session:
            connection = await session.connection()
            await connection.execute(insert(WatchEventRecord), chunk_history)
            await connection.execute(insert(InteractionRecord), chunk_interactions)
        bar.update(len(chunk_history))
    bar.close()
    summary = ImportSummary(
        titles_added=added, titles_known=len(unique) - added, users=len(users), ratings=len(history)
    )
    report(
        f"Imported MovieLens: {summary.titles_added} new titles ({summary.titles_known} already "
        f"in the catalog), {summary.ratings} ratings of {summary.users} users as watch history."
    )
    return summary
