"""Catalog: titles, search, genres, availability, batched ``Content`` references."""

from __future__ import annotations

from media_gateway.app import Platform
from media_gateway.subgraphs.catalog.demo import load_demo_catalog

from .conftest import GraphQLClient, QueryCounter, entity_query, error_codes

# tables only the catalog's background tasks touch: the outbox's polls, and search analytics'
# batched writes and retention
BACKGROUND_TABLES = ("catalog_outbox", "catalog_search_events", "catalog_search_plays")


def request_queries(counter: QueryCounter) -> int:
    """Statements on catalog tables, less those of the catalog's background tasks."""
    return sum(
        1
        for s in counter.statements
        if " catalog_" in s and not any(table in s for table in BACKGROUND_TABLES)
    )


SEARCH = """
query($q: String!, $first: Int, $after: String) {
  search(query: $q, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { __typename id title year } }
  }
}
"""


def test_demo_catalog_is_a_few_hundred_real_titles() -> None:
    catalog = load_demo_catalog()
    assert len(catalog.titles) >= 300
    ids = [t.id for t in catalog.titles]
    assert len(ids) == len(set(ids))
    matrix = next(t for t in catalog.titles if t.title == "The Matrix")
    assert (matrix.year, matrix.runtime_minutes) == (1999, 136)
    assert "Science Fiction" in matrix.genres


async def test_content_by_id_with_genres_and_demo_availability(
    clients: dict[str, GraphQLClient],
) -> None:
    body = await clients["catalog"](
        """{ content(id: "movie:the-matrix-1999") {
              __typename id title year runtime contentRating genres
              availability { platform region offerType deepLink isDemoData } } }"""
    )
    content = body["data"]["content"]
    assert content["__typename"] == "Movie"
    assert (content["title"], content["year"], content["runtime"]) == ("The Matrix", 1999, 136)
    assert content["genres"] == ["Action", "Science Fiction"]
    assert content["availability"]
    assert all(offer["isDemoData"] for offer in content["availability"])
    assert all(offer["deepLink"].startswith("https://") for offer in content["availability"])


async def test_unknown_content_is_null(clients: dict[str, GraphQLClient]) -> None:
    assert (await clients["catalog"]('{ content(id: "movie:nope") { id } }'))["data"] == {
        "content": None
    }


async def test_series_seasons_and_episodes(clients: dict[str, GraphQLClient]) -> None:
    body = await clients["catalog"](
        """{ content(id: "series:breaking-bad-2008") { __typename title
              ... on Series { seasons { seasonNumber episodes { episodeNumber title } } } } }"""
    )
    series = body["data"]["content"]
    assert series["__typename"] == "Series"
    assert [s["seasonNumber"] for s in series["seasons"]] == [1, 2, 3, 4, 5]
    assert series["seasons"][0]["episodes"][0] == {"episodeNumber": 1, "title": "Pilot"}


async def test_contents_keeps_order_and_batches(
    clients: dict[str, GraphQLClient], count_queries: QueryCounter
) -> None:
    ids = ["movie:alien-1979", "movie:nope", "movie:inception-2010"]
    count_queries.reset()
    body = await clients["catalog"](
        "query($ids: [ID!]!) { contents(ids: $ids) { id title genres } }", {"ids": ids}
    )
    titles = [c["title"] if c else None for c in body["data"]["contents"]]
    assert titles == ["Alien", None, "Inception"]
    # the titles, then the genres of all of them
    assert request_queries(count_queries) == 2


async def test_search_matches_words_accent_insensitively(clients: dict[str, GraphQLClient]) -> None:
    # the query names a title: that title, and no title merely like the name in meaning
    body = await clients["catalog"](SEARCH, {"q": "amelie"})
    assert [e["node"]["title"] for e in body["data"]["search"]["edges"]] == ["Amélie"]
    assert body["data"]["search"]["totalCount"] == 1
    # a named title first, then the titles its words match
    body = await clients["catalog"](SEARCH, {"q": "dune"})
    titles = [e["node"]["title"] for e in body["data"]["search"]["edges"]]
    assert titles[:2] == ["Dune", "Dune: Part Two"]
    # words of a title (no title named exactly): the titles carrying them come first
    body = await clients["catalog"](SEARCH, {"q": "lord rings"})
    titles = [e["node"]["title"] for e in body["data"]["search"]["edges"]]
    assert all("Lord of the Rings" in t for t in titles[:3])
    assert not any("Lord of the Rings" in t for t in titles[3:])


async def test_search_pages_with_cursors(clients: dict[str, GraphQLClient]) -> None:
    first = (await clients["catalog"](SEARCH, {"q": "the", "first": 5}))["data"]["search"]
    assert first["totalCount"] > 5 and first["pageInfo"]["hasNextPage"]
    second = (
        await clients["catalog"](
            SEARCH, {"q": "the", "first": 5, "after": first["pageInfo"]["endCursor"]}
        )
    )["data"]["search"]
    first_ids = {e["node"]["id"] for e in first["edges"]}
    assert len(second["edges"]) == 5 and not first_ids & {e["node"]["id"] for e in second["edges"]}


async def test_search_bad_input_is_answered(clients: dict[str, GraphQLClient]) -> None:
    assert error_codes(await clients["catalog"](SEARCH, {"q": "x", "after": "garbage!"})) == [
        "BAD_USER_INPUT"
    ]
    assert error_codes(await clients["catalog"](SEARCH, {"q": "x", "first": -1})) == [
        "BAD_USER_INPUT"
    ]
    # junk means nothing: neither its words nor its meaning find a title
    long = await clients["catalog"](SEARCH, {"q": "a" * 10_000})
    assert long["data"]["search"]["totalCount"] == 0
    for junk in ("zzzzzzzz", "xqzvw jjjjjj", "1111111111"):
        assert (await clients["catalog"](SEARCH, {"q": junk}))["data"]["search"]["totalCount"] == 0
    assert (await clients["catalog"](SEARCH, {"q": "100%_"}))["data"]["search"]["totalCount"] == 0


async def test_genres_have_counts(clients: dict[str, GraphQLClient]) -> None:
    genres = (await clients["catalog"]("{ genres { name titleCount } }"))["data"]["genres"]
    by_name = {g["name"]: g["titleCount"] for g in genres}
    assert by_name["Drama"] > 100 and by_name["Documentary"] >= 10


async def test_content_references_cost_one_query(
    platform: Platform, clients: dict[str, GraphQLClient], count_queries: QueryCounter
) -> None:
    ids = [t.id for t in load_demo_catalog().titles[:25]]
    representations = [{"__typename": "Content", "id": i} for i in ids] + [
        {"__typename": "Movie", "id": i} for i in ids[:5]
    ]
    count_queries.reset()
    body = await clients["catalog"](
        entity_query("... on Content { id title }"), {"r": representations}
    )
    assert "errors" not in body
    assert [e["id"] for e in body["data"]["_entities"]] == ids + ids[:5]
    assert request_queries(count_queries) == 1, count_queries.statements
