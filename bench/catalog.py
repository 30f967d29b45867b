"""Catalog search benchmark: autocomplete, search with facets, spelling correction, index
build time and memory, in-process, over MovieLens-100K titles (imported through the
``import movielens`` code path into a temporary database) and a generated 100,000-title
catalog.

    python bench/catalog.py [--movielens PATH] [--titles 100000] [--queries 2000]
                            [--embedder hashing|local]

Goals on a 2-core machine: autocomplete p95 < 5 ms and search with facets p95 < 50 ms at
100,000 titles (printed against each figure at the end), spelling p99 < 5 ms.

``--embedder local`` embeds every title with the sentence-embedding model (the
``local-embeddings`` extra) instead of the built-in hashing embedder, so each search also
embeds its query with the model; building 100,000 titles that way takes many minutes on
two cores. ``--query-embedding`` times the model embedding one query, the part of a search
the local model adds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from media_gateway.platform.embeddings import Embedder, HashingEmbedder, local_embedder
from media_gateway.subgraphs.catalog.search import SearchEngine, SearchFilters, TitleDocument
from media_gateway.subgraphs.catalog.search.vocabulary import GENRES, OFFER_TYPES, PLATFORMS

RATINGS = ("G", "PG", "PG-13", "R", "NC-17", "TV-14", "TV-MA", None)
SYLLABLES = [
    "ka",
    "ri",
    "to",
    "na",
    "mel",
    "dor",
    "an",
    "sil",
    "ver",
    "mo",
    "on",
    "lux",
    "tra",
    "vel",
    "qui",
    "ta",
    "ber",
    "gen",
    "sha",
    "do",
    "win",
    "ter",
    "fal",
    "con",
    "ro",
    "se",
    "mar",
    "ble",
    "hol",
    "low",
    "bright",
    "star",
    "fire",
    "wood",
    "glen",
    "ash",
]
FIRST = [
    "Ada",
    "Ben",
    "Cara",
    "Dev",
    "Eli",
    "Finn",
    "Gia",
    "Hugo",
    "Iris",
    "Jon",
    "Kai",
    "Lena",
    "Milo",
    "Nora",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
]
LAST = [
    "Abe",
    "Brook",
    "Cole",
    "Dane",
    "Evans",
    "Frost",
    "Gray",
    "Hale",
    "Ives",
    "Jules",
    "Kent",
    "Lowe",
    "Moss",
    "Nash",
    "Orr",
    "Park",
]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: Sequence[float]) -> str:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"p50 {at(0.50):6.2f} ms  p95 {at(0.95):6.2f} ms  p99 {at(0.99):6.2f} ms"


CPU_SAMPLES: list[list[float]] = []  # the CPU time of each call of the last ``timed``


def timed(calls: Sequence[Callable[[], object]]) -> list[float]:
    """Each call's wall-clock time; its CPU time (this thread's) goes to ``CPU_SAMPLES``, so a
    busy machine's scheduling delays can be told apart from the work itself."""
    samples, cpu = [], []
    for call in calls:
        start, start_cpu = time.perf_counter(), time.thread_time()
        call()
        samples.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    CPU_SAMPLES[:] = [cpu]
    return samples


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def generated_catalog(count: int, seed: int = 7) -> list[TitleDocument]:
    rng = random.Random(seed)
    words = list(
        {
            "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))).capitalize()
            for _ in range(12_000)
        }
    )
    people = [f"{rng.choice(FIRST)} {rng.choice(LAST)}{rng.randint(1, 999)}" for _ in range(20_000)]
    regions = ("US", "GB", "DE", "FR")
    docs = []
    for number in range(count):
        title = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        kind = "series" if rng.random() < 0.2 else "movie"
        offers = tuple(
            {
                (rng.choice(PLATFORMS), rng.choice(regions), rng.choice(OFFER_TYPES))
                for _ in range(rng.randint(0, 4))
            }
        )
        docs.append(
            TitleDocument(
                id=f"{kind}:generated-{number}",
                kind=kind,
                title=title,
                year=rng.randint(1920, 2025),
                runtime=rng.randint(20, 200),
                content_rating=rng.choice(RATINGS),
                popularity=round(rng.random() ** 3 * 100, 2),
                quality_score=round(rng.uniform(3, 9.8), 1),
                genres=tuple(rng.sample(GENRES, rng.randint(1, 3))),
                people=tuple((f"person:g{p}", people[p]) for p in rng.sample(range(20_000), 3)),
                offers=offers,
            )
        )
    return docs


async def movielens_documents(path: Path) -> list[TitleDocument]:
    from media_gateway.app.movielens import import_movielens
    from media_gateway.storage.database import Database
    from media_gateway.subgraphs.catalog.search.index import SearchIndex

    with tempfile.TemporaryDirectory() as folder:
        database = Database(f"sqlite+aiosqlite:///{folder}/bench.sqlite")
        try:
            await database.migrate()
            await import_movielens(database, path, progress=False, report=lambda _: None)
            return await SearchIndex(database).title_documents()
        finally:
            await database.dispose()


GOALS = {"autocomplete": 5.0, "search + facets": 50.0}  # p95, milliseconds
RESULTS: list[tuple[str, str, float, float]] = []  # (catalog, figure, p95 ms, CPU p95 ms)


def p95(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000


def run(name: str, docs: list[TitleDocument], queries: int, embedder: Embedder) -> None:
    rng = random.Random(11)
    before = rss_mb()
    engine = SearchEngine(embedder)
    start = time.perf_counter()
    engine.build(docs)
    build = time.perf_counter() - start
    after = rss_mb()
    print(f"\n== {name}: {len(docs):,} titles, embedder {embedder.name}")
    print(
        f"index build      {build:8.2f} s   (peak RSS {after:,.0f} MB, +{after - before:,.0f} MB)"
    )
    words = [w for d in docs for w in d.title.lower().split() if len(w) > 3]
    names = [name for d in docs for _, name in d.people] or words
    prefixes = []
    for _ in range(queries):
        source = rng.choice(words if rng.random() < 0.7 else names).lower()
        prefixes.append(source[: rng.randint(2, min(8, len(source)))])
        if rng.random() < 0.1:
            prefixes[-1] = typo(source, rng)
    auto = timed([lambda p=p: engine.autocomplete(p, 8) for p in prefixes])
    print(f"autocomplete     {percentiles(auto)}")
    print(f"  (CPU time)     {percentiles(CPU_SAMPLES[0])}")
    RESULTS.append((name, "autocomplete", p95(auto), p95(CPU_SAMPLES[0])))
    typos = [typo(rng.choice(words), rng) for _ in range(queries)]
    spelling = timed([lambda t=t: engine.correct(t) for t in typos])
    print(f"spelling         {percentiles(spelling)}")
    searches: list[Callable[[], object]] = []
    for _ in range(queries):
        roll = rng.random()
        if roll < 0.5:
            text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 2)))
            searches.append(lambda t=text: engine.search(t, first=20))
        elif roll < 0.65:
            text = typo(rng.choice(words), rng)
            searches.append(lambda t=text: engine.search(t, first=20))
        elif roll < 0.8:
            searches.append(lambda: engine.search("funny space movies from the 90s on netflix"))
        else:
            filters = SearchFilters(
                genres=[rng.choice(GENRES)],
                platforms=[rng.choice(PLATFORMS)],
                year_from=1990,
                max_content_rating="PG-13",
            )
            searches.append(lambda f=filters: engine.search("", f, first=20))
    search = timed(searches)
    print(f"search + facets  {percentiles(search)}")
    print(f"  (CPU time)     {percentiles(CPU_SAMPLES[0])}")
    RESULTS.append((name, "search + facets", p95(search), p95(CPU_SAMPLES[0])))
    print(f"peak RSS         {rss_mb():,.0f} MB")
    engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[1] / "../shared/data/movielens-100k"
    parser.add_argument(
        "--movielens", type=Path, default=Path(os.environ.get("MOVIELENS_PATH", default))
    )
    parser.add_argument("--titles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--embedder", choices=("hashing", "local"), default="hashing")
    parser.add_argument("--query-embedding", action="store_true")
    args = parser.parse_args()
    embedder: Embedder = HashingEmbedder()
    if args.embedder == "local" or args.query_embedding:
        local = local_embedder()
        if local is None:
            parser.error("the local model is not installed (scripts/setup.sh --local-embeddings)")
        if args.query_embedding:
            local.embed(["warm up"])
            rng = random.Random(5)
            texts = [f"{rng.choice(SYLLABLES)} {rng.choice(SYLLABLES)}" for _ in range(200)]
            samples = timed([lambda t=t: local.embed([t]) for t in texts])
            print(f"\nquery embedding ({local.name}, 1 query)  {percentiles(samples)}")
        if args.embedder == "local":
            embedder = local
    # Qdrant's local mode warns above 20,000 points; its vectors are searched in memory here
    warnings.filterwarnings("ignore", module="qdrant_client")
    if (args.movielens / "ml-100k.item").is_file():
        docs = asyncio.run(movielens_documents(args.movielens))
        run("MovieLens-100K", docs, args.queries, embedder)
    else:
        print(f"MovieLens-100K not found at {args.movielens}; skipped")
    start = time.perf_counter()
    docs = generated_catalog(args.titles)
    print(f"\n(generated {len(docs):,} titles in {time.perf_counter() - start:.1f} s)")
    run("generated catalog", docs, args.queries, embedder)
    print(f"\n{args.queries} calls per figure, each timed alone (no warm-up).")
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("\nagainst the goals (p95 wall clock; CPU time beside it):")
    for catalog, figure, value, cpu in RESULTS:
        goal = GOALS[figure]
        verdict = "met" if value < goal else "NOT MET"
        print(
            f"  {catalog:<18} {figure:<16} {value:7.2f} ms (CPU {cpu:6.2f} ms)  "
            f"goal < {goal:g} ms  {verdict}"
        )


if __name__ == "__main__":
    main()
