"""Search finds what viewers mistype: a query set by category (typos, missing words, numerals,
run-together words, alternative spellings, leading articles) on the demo catalog and on
MovieLens-100K titles; queries of real words are never rewritten; autocomplete after a space;
feed titles written differently resolve to the catalog's title, and a duplicate never outranks
its original."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from media_gateway.app import Platform
from media_gateway.subgraphs.catalog.ingest.ingester import Ingester
from media_gateway.subgraphs.catalog.ingest.normalizers import normalizer_for
from media_gateway.subgraphs.catalog.models import ContentRecord
from media_gateway.subgraphs.catalog.search.autocomplete import Autocompleter, Suggestion
from media_gateway.subgraphs.catalog.search.spelling import QueryCorrector
from media_gateway.subgraphs.catalog.text import content_id, fold

from .conftest import CatalogClient
from .search_queries import DEMO, MOVIELENS
from .test_autocomplete_and_model import complete
from .test_movielens_search import movielens_client, movielens_settings  # noqa: F401
from .test_search import search, titles


async def _top3_misses(client: CatalogClient, queries: list[tuple[str, str, str]]) -> list[Any]:
    misses = []
    for category, query, wanted in queries:
        found = titles(await search(client, query, first=3))
        if wanted not in found:
            misses.append((category, query, wanted, found))
    return misses


async def test_every_demo_query_finds_its_title_in_the_top_3(client: CatalogClient) -> None:
    assert {category for category, _, _ in DEMO} == {
        "typo",
        "missing words",
        "numerals",
        "run-together",
        "alternative spelling",
        "leading article",
    }
    assert await _top3_misses(client, DEMO) == []


@pytest.mark.timeout(900)  # importing MovieLens on a busy two-core machine
async def test_every_movielens_query_finds_its_title_in_the_top_3(
    movielens_client: CatalogClient,  # noqa: F811
) -> None:
    assert await _top3_misses(movielens_client, MOVIELENS) == []


async def test_run_together_words_are_split_and_say_so(client: CatalogClient) -> None:
    for query, corrected, wanted in (
        ("jurassicpark", "jurassic park", "Jurassic Park"),
        ("reservoirdogs", "reservoir dogs", "Reservoir Dogs"),
        ("toystory2", "toy story 2", "Toy Story 2"),
    ):
        result = await search(client, query, first=3)
        assert result["correctedQuery"] == corrected
        assert titles(result)[0] == wanted
    # a split compound the catalog writes as one word is joined
    spiderman = await search(client, "spider man into the spider verse", first=3)
    assert titles(spiderman)[0] == "Spider-Man: Into the Spider-Verse"


async def test_a_query_of_real_words_is_never_rewritten(client: CatalogClient) -> None:
    for query in ("dreams within dreams", "a heist within a heist", "star wars", "the matrix"):
        result = await search(client, query, first=3)
        assert result["correctedQuery"] is None, query
    # a typo is still corrected, toward the words of the catalog's titles
    assert (await search(client, "interstelar"))["correctedQuery"] == "interstellar"


async def test_numerals_are_written_the_way_the_title_writes_them(client: CatalogClient) -> None:
    godfather = await search(client, "godfather 2", first=3)
    assert godfather["correctedQuery"] == "godfather ii"
    assert titles(godfather)[0] == "The Godfather Part II"
    terminator = await search(client, "terminator two", first=3)
    assert titles(terminator)[0] == "Terminator 2: Judgment Day"


async def test_autocomplete_matches_a_partial_word_after_a_space(client: CatalogClient) -> None:
    star = [hit["text"] for hit in await complete(client, "star wa")]
    assert star and all("Star Wars" in text for text in star[:2])
    lord = [hit["text"] for hit in await complete(client, "lord of the ri")]
    assert lord and all("Lord of the Rings" in text for text in lord[:3])


def test_autocomplete_after_a_space_is_not_crowded_out_by_popular_prefixes() -> None:
    # many more popular titles start a word with "wa" than there are entries a prefix keeps
    crowd = [
        Suggestion("title", f"movie:wa-{n}", f"Waves of {n}", 100.0 + n, 0) for n in range(600)
    ]
    rare = Suggestion("title", "movie:star-wars", "Star Wars", 1.0, 0)
    completer = Autocompleter()
    completer.build([*crowd, rare, Suggestion("title", "movie:star", "Star Dust", 2.0, 0)])
    hits = completer.complete("star wa", 5)
    assert [hit.suggestion.id for hit in hits] == ["movie:star-wars"]


def _hulu(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "items": [
            {
                "eab_id": f"EAB::{uuid.uuid4().hex[:8]}",
                "type": "movie",
                "rating": "R",
                "genre_names": ["Drama"],
                "tmdb_id": None,
                "audienceScore": 9.8,
                "voteCount": 2_000_000,
                "availability": [{"region": "US", "expires": None, "package": "no_ads"}],
                **item,
            }
            for item in items
        ]
    }


async def test_feed_titles_written_differently_resolve_to_the_catalog_title(
    platform: Platform, client: CatalogClient
) -> None:
    ingester = Ingester(platform.runtime.database)
    feed = _hulu(
        [
            # leading article moved to the end, no external id, a very well rated feed
            {"name": "Matrix, The", "premiere_date": "1999-03-31", "duration_minutes": 136},
            # punctuation, roman numeral as a digit, article at the end
            {"name": "Godfather: Part 2, The", "premiere_date": "1974-12-20"},
            # "&" for "and" and the subtitle after " - "
            {
                "name": "Wallace and Gromit - The Curse of the Were-Rabbit",
                "premiere_date": "2005-10-07",
            },
            # the title without its subtitle, the same year
            {"name": "Spider-Man", "premiere_date": "2018-12-14", "duration_minutes": 117},
        ]
    )
    summary = await ingester.ingest(normalizer_for("hulu")[1](feed))
    assert summary.titles_new == 0
    assert summary.content_ids == [
        content_id("movie", "The Matrix", 1999),
        content_id("movie", "The Godfather Part II", 1974),
        content_id("movie", "Wallace & Gromit: The Curse of the Were-Rabbit", 2005),
        content_id("movie", "Spider-Man: Into the Spider-Verse", 2018),
    ]
    # year and runtime tell titles apart: another year, or the same title far longer, is new
    other = _hulu(
        [
            {"name": "Matrix, The", "premiere_date": "2031-01-01", "duration_minutes": 136},
            {"name": "The Matrix", "premiere_date": "1999-01-01", "duration_minutes": 300},
        ]
    )
    assert (await ingester.ingest(normalizer_for("hulu")[1](other))).titles_new == 2
    await platform["catalog"].service.search.sync_index()
    found = titles(await search(client, "the matrix", first=5))
    assert found[0] == "The Matrix"
    assert found.count("Matrix, The") <= 1


async def test_a_duplicate_never_outranks_its_original(
    platform: Platform, client: CatalogClient
) -> None:
    # a duplicate the catalog already holds (from before feeds were resolved), more popular
    # than its original and named exactly as the query is typed
    duplicate = f"movie:matrix-the-1999-{uuid.uuid4().hex[:6]}"
    async with platform.runtime.database.transaction() as session:
        session.add(
            ContentRecord(
                id=duplicate,
                kind="movie",
                title="Matrix, The",
                title_search=fold("Matrix, The"),
                year=1999,
                runtime_minutes=136,
                popularity=100.0,
            )
        )
    await platform["catalog"].service.search.refresh_index([duplicate])
    original = content_id("movie", "The Matrix", 1999)
    for query in ("matrix", "the matrix", "matrix, the", "matrx", "matrix 1999"):
        result = await search(client, query, first=10)
        found = [edge["node"]["id"] for edge in result["edges"]]
        assert duplicate in found, query
        assert found.index(original) < found.index(duplicate), (query, titles(result))


@pytest.mark.parametrize("query", ["", "   ", "x" * 600, "1234567890" * 5, "!!!"])
async def test_odd_queries_are_answered(client: CatalogClient, query: str) -> None:
    result = await search(client, query, first=3)
    assert result["totalCount"] >= 0


def test_split_words_join_where_a_title_writes_them_as_one() -> None:
    corrector = QueryCorrector()
    corrector.add_phrase(["spiderman"], 5.0)
    corrector.add_phrase(["spiderwoman"], 5.0)
    corrector.add_phrase(["kiss", "of", "the", "spider", "woman"])
    corrector.add_phrase(["the", "man", "who", "knew", "too", "much"])
    assert corrector.correct("spider man") == ("spiderman", True)
    # words a title has side by side stay apart
    assert corrector.correct("spider woman") == ("spider woman", False)
    assert corrector.correct("man who knew") == ("man who knew", False)
