"""Importing MovieLens-100K from a path (the data set is never part of the product)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlmodel import func, select

from media_gateway.app.movielens import display_title, import_movielens
from media_gateway.storage.database import Database
from media_gateway.subgraphs.catalog.models import ContentRecord
from media_gateway.subgraphs.playback.models import WatchEventRecord

MOVIELENS = Path(
    os.environ.get(
        "MOVIELENS_100K_PATH", Path(__file__).resolve().parents[3] / "shared/data/movielens-100k"
    )
)


def test_display_titles_put_articles_first() -> None:
    assert display_title("Usual Suspects, The") == "The Usual Suspects"
    assert display_title("City of Lost Children, The (Cité des enfants perdus, La)") == (
        "The City of Lost Children (Cité des enfants perdus, La)"
    )
    assert display_title("Toy Story") == "Toy Story"


@pytest.mark.skipif(
    not (MOVIELENS / "ml-100k.inter").is_file(), reason="MovieLens-100K not available"
)
async def test_import_loads_titles_and_history(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/ml.sqlite")
    lines: list[str] = []
    try:
        await database.migrate()
        summary = await import_movielens(database, MOVIELENS, progress=False, report=lines.append)
        assert summary.ratings == 100_000 and summary.users == 943
        assert summary.titles_added > 1600
        async with database.session() as session:
            toy = await session.get(ContentRecord, "movie:toy-story-1995")
            assert toy is not None and toy.title == "Toy Story"
            count = (await session.exec(select(func.count()).select_from(WatchEventRecord))).one()
            assert count == 100_000
        again = await import_movielens(database, MOVIELENS, progress=False, report=lines.append)
        assert again.titles_added == 0  # idempotent: titles kept, ratings replaced
        async with database.session() as session:
            assert (
                await session.exec(select(func.count()).select_from(WatchEventRecord))
            ).one() == 100_000
        assert "Imported MovieLens" in lines[0]
    finally:
        await database.dispose()
