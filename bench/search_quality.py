"""Search quality: hits@3 of the product's search against a naive fuzzy matcher, in the same
run, over the query set kept with the tests (tests/subgraphs/catalog/search_queries.py:
typos, missing words, numerals, run-together words, alternative spellings, leading articles)
on the demo catalog and on MovieLens-100K titles imported through ``import movielens``.

    python bench/search_quality.py [--movielens PATH]

The product's search runs with the embedder the catalog chooses at start (the local model when
installed, else the hashing embedder; ``--embedder hashing`` forces the latter). The naive
matcher is rapidfuzz's WRatio over the catalog's titles as stored (lower-cased and
stripped of punctuation by rapidfuzz's default processor); hits@3 counts the queries whose
intended title is among the first three answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path

from rapidfuzz import fuzz, process, utils

from media_gateway.platform.settings import Settings
from media_gateway.subgraphs.catalog.search import SearchEngine, TitleDocument
from media_gateway.subgraphs.catalog.search.embeddings import (
    Embedder,
    HashingEmbedder,
    make_embedder,
)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.subgraphs.catalog.search_queries import DEMO, MOVIELENS, Query  # noqa: E402


async def documents(movielens: Path | None) -> list[TitleDocument]:
    """The catalog's titles as the search index reads them: the demo catalog, or MovieLens
    imported into an empty catalog."""
    from media_gateway.app.movielens import import_movielens
    from media_gateway.storage.database import Database
    from media_gateway.subgraphs.catalog.demo.seed import seed_demo_catalog
    from media_gateway.subgraphs.catalog.search.index import SearchIndex

    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite+aiosqlite:///{folder}/bench.sqlite")
        try:
            await database.migrate()
            if movielens is None:
                await seed_demo_catalog(database)
            else:
                await import_movielens(database, movielens, progress=False, report=lambda _: None)
            return await SearchIndex(database).title_documents()
        finally:
            await database.dispose()


def evaluate(
    name: str, docs: list[TitleDocument], queries: list[Query], embedder: Embedder
) -> tuple[int, int]:
    engine = SearchEngine(embedder)
    engine.build(docs)
    by_id = {doc.id: doc.title for doc in docs}
    titles = [doc.title for doc in docs]
    product: Counter[str] = Counter()
    naive: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    misses: list[str] = []
    for category, query, wanted in queries:
        totals[category] += 1
        found = [by_id[i] for i in engine.search(query, first=3).ids]
        product[category] += wanted in found
        matched = process.extract(
            query, titles, scorer=fuzz.WRatio, processor=utils.default_process, limit=3
        )
        naive[category] += wanted in [title for title, _, _ in matched]
        if wanted not in found:
            misses.append(f"  product missed {query!r} ({category}): {found}")
    engine.close()
    print(f"\n== {name}: {len(docs):,} titles, {len(queries)} queries, hits@3")
    print(f"(product's embedder: {embedder.name})")
    print(f"{'category':<22}{'queries':>8}{'product':>9}{'naive fuzzy':>13}")
    for category in totals:
        print(f"{category:<22}{totals[category]:>8}{product[category]:>9}{naive[category]:>13}")
    print(f"{'all':<22}{len(queries):>8}{product.total():>9}{naive.total():>13}")
    for line in misses:
        print(line)
    return product.total(), naive.total()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = REPO / "../shared/data/movielens-100k"
    parser.add_argument(
        "--movielens", type=Path, default=Path(os.environ.get("MOVIELENS_PATH", default))
    )
    parser.add_argument("--embedder", choices=("default", "hashing"), default="default")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="qdrant_client")
    embedder = (
        HashingEmbedder() if args.embedder == "hashing" else make_embedder(Settings.from_env())
    )
    evaluate("demo catalog", asyncio.run(documents(None)), DEMO, embedder)
    if (args.movielens / "ml-100k.item").is_file():
        evaluate("MovieLens-100K", asyncio.run(documents(args.movielens)), MOVIELENS, embedder)
    else:
        print(f"\nMovieLens-100K not found at {args.movielens}; skipped")


if __name__ == "__main__":
    main()
