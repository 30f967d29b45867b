"""Import MovieLens-100K (RecBole atomic files) from a path: titles, genres, years, and the
users' ratings as watch history and graded recommendation feedback; with ``accounts`` also a
member account per MovieLens user, so that anyone can sign in as one and see their lists.

Imported accounts: MovieLens user ``N`` becomes the account ``movielens-N`` with the email
``movielens-N@<email domain>`` (``example.com`` unless given) and the import's password (the
operator's, or one generated and printed once), all accounts the same. An account that exists
already (by id or email) is left as it is.

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
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.catalog.models import ContentRecord
from media_gateway.subgraphs.catalog.text import content_id, fold
from media_gateway.subgraphs.catalog.titles import TitleService
from media_gateway.subgraphs.identity.models import UserRecord
from media_gateway.subgraphs.identity.passwords import hash_password, password_refusal
from media_gateway.subgraphs.playback.models import WatchEventRecord
from media_gateway.subgraphs.recommendations.feedback import rating_weight
from media_gateway.subgraphs.recommendations.models import InteractionRecord

SOURCE = "movielens"
USER_PREFIX = "movielens-"
EMAIL_DOMAIN = "example.com"
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
    accounts_added: int = 0


@dataclass(frozen=True)
class Accounts:
    """Create a sign-in-able account per imported user: ``movielens-N@<email_domain>`` with
    ``password`` (checked by the same policy as any new password)."""

    password: str
    email_domain: str = EMAIL_DOMAIN

    def email(self, user_id: str) -> str:
        return f"{user_id}@{self.email_domain}".lower()


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
    accounts: Accounts | None = None,
) -> ImportSummary:
    """Load MovieLens-100K from ``path`` (a folder with ml-100k.item and ml-100k.inter)."""
    items_file, ratings_file = path / "ml-100k.item", path / "ml-100k.inter"
    for required in (items_file, ratings_file):
        if not required.is_file():
            raise MovieLensFormatError(f"{required.name} not found in the given folder")
    if accounts is not None:
        refusal = password_refusal(accounts.password, ["movielens"])
        if refusal is not None:
            raise MovieLensFormatError(f"the accounts' password is refused: {refusal.message}")

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
                "weight": rating_weight(min(5.0, max(1.0, rating))),
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
    created = await create_accounts(database, sorted(users), accounts) if accounts else 0
    summary = ImportSummary(
        titles_added=added,
        titles_known=len(unique) - added,
        users=len(users),
        ratings=len(history),
        accounts_added=created,
    )
    report(
        f"Imported MovieLens: {summary.titles_added} new titles ({summary.titles_known} already "
        f"in the catalog), {summary.ratings} ratings of {summary.users} users as watch history."
    )
    if accounts is not None:
        report(
            f"Member accounts: {created} created ({len(users) - created} existed); sign in as "
            f"{USER_PREFIX}N@{accounts.email_domain} (N: the MovieLens user id) with the "
            "import's password."
        )
    return summary


async def create_accounts(database: Database, user_ids: list[str], accounts: Accounts) -> int:
    """An account per imported user that has none (by id or email); how many were created.
    One password hash serves them all: they share the import's password."""
    from sqlmodel import col, select

    password_hash = await hash_password(accounts.password)
    emails = {user_id: accounts.email(user_id) for user_id in user_ids}
    async with database.session() as session:
        taken = (
            await session.exec(
                select(UserRecord.id, UserRecord.email).where(
                    col(UserRecord.id).in_(user_ids) | col(UserRecord.email).in_(emails.values())
                )
            )
        ).all()
    existing = {i for i, _ in taken} | {e for _, e in taken}
    now = utcnow()
    rows = [
        {
            "id": user_id,
            "email": emails[user_id],
            "display_name": f"MovieLens member {user_id.removeprefix(USER_PREFIX)}",
            "password_hash": password_hash,
            "email_verified_at": now,
            "created_at": now,
        }
        for user_id in user_ids
        if user_id not in existing and emails[user_id] not in existing
    ]
    for chunk in _chunks(rows, CHUNK):
        async with database.transaction() as session:
            connection = await session.connection()
            await connection.execute(insert(UserRecord), chunk)
    return len(rows)
