"""Autocomplete, parental controls, people, external ids and offers ending soon, on the
catalog subgraph over the demo catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from media_gateway.platform import ratings
from media_gateway.platform.settings import Settings

from .conftest import CatalogClient, error_codes, profile_token
from .test_search import SEARCH, facet, search, titles

AUTOCOMPLETE = """
query($p: String!, $limit: Int) {
  autocomplete(prefix: $p, limit: $limit) { kind id text score content { title } }
}
"""


async def complete(
    client: CatalogClient, prefix: str, token: str | None = None, limit: int = 8
) -> Any:
    body = await client(AUTOCOMPLETE, {"p": prefix, "limit": limit}, token=token)
    assert "errors" not in body, body
    return body["data"]["autocomplete"]


async def test_autocomplete_titles_people_and_genres(client: CatalogClient) -> None:
    assert await complete(client, "m") == []
    two = await complete(client, "ma")
    assert len(two) == 8 and all(s["text"].lower().find("ma") >= 0 for s in two)
    matrix = await complete(client, "matr")
    assert matrix[0]["text"] == "The Matrix" and matrix[0]["kind"] == "TITLE"
    assert matrix[0]["id"] == "movie:the-matrix-1999"
    assert matrix[0]["content"] == {"title": "The Matrix"}
    people = await complete(client, "keanu")
    assert people[0] == {
        "kind": "PERSON",
        "id": "person:keanu-reeves",
        "text": "Keanu Reeves",
        "score": people[0]["score"],
        "content": None,
    }
    genre = await complete(client, "dram")
    assert genre[0]["kind"] == "GENRE" and genre[0]["id"] == "Drama"
    scores = [s["score"] for s in two]
    assert scores == sorted(scores, reverse=True)


async def test_autocomplete_tolerates_typos_and_multiple_words(client: CatalogClient) -> None:
    assert (await complete(client, "matirx"))[0]["text"] == "The Matrix"
    star = [s["text"] for s in await complete(client, "star wa")]
    assert star and all("Star Wars" in t for t in star)
    assert (await complete(client, "interstelar"))[0]["text"] == "Interstellar"
    assert await complete(client, "x" * 5000) == []
    body = await client(AUTOCOMPLETE, {"p": "ma", "limit": -1})
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_parental_controls_filter_search_autocomplete_facets_and_lookups(
    client: CatalogClient, settings: Settings
) -> None:
    kids = profile_token(settings, "PG", kids=True)
    everyone = await search(client, "", first=1)
    limited = await search(client, "", token=kids, first=100)
    assert 0 < limited["totalCount"] < everyone["totalCount"]
    assert all(ratings.allowed(e["node"]["contentRating"], "PG") for e in limited["edges"])
    assert sum(facet(limited, "releaseYears").values()) == limited["totalCount"]
    assert facet(limited, "genres")["Drama"] < facet(everyone, "genres")["Drama"]
    godfather = await search(client, "the godfather", token=kids)
    assert "The Godfather" not in titles(godfather)
    assert all(s["text"] != "The Godfather" for s in await complete(client, "godf", kids))
    assert (await complete(client, "godf"))[0]["text"] == "The Godfather"
    # a lookup of a title above the limit: null with FORBIDDEN
    body = await client('{ content(id: "movie:the-godfather-1972") { title } }', token=kids)
    assert body["data"]["content"] is None and error_codes(body) == ["FORBIDDEN"]
    body = await client('{ content(id: "movie:toy-story-1995") { title } }', token=kids)
    assert body["data"]["content"] == {"title": "Toy Story"}
    body = await client(
        '{ contents(ids: ["movie:the-godfather-1972", "movie:toy-story-1995"]) { title } }',
        token=kids,
    )
    assert body["data"]["contents"] == [None, {"title": "Toy Story"}]
    # a profile cannot widen its own limit with a filter
    wider = await search(client, "", token=kids, filters={"maxContentRating": "NC-17"})
    assert wider["totalCount"] == limited["totalCount"]
    # no limit in the token: everything
    adult = profile_token(settings, None)
    assert (await search(client, "", token=adult, first=1))["totalCount"] == everyone["totalCount"]


async def test_title_people_external_ids_and_offers(client: CatalogClient) -> None:
    body = await client(
        """{ content(id: "movie:the-matrix-1999") {
              title originalTitle qualityScore externalIds { imdb tmdb eidr }
              cast { role person { id name } }
              crew { job person { name } }
              availability { platform price currency quality deepLink leavesAt } } }"""
    )
    assert "errors" not in body, body
    matrix = body["data"]["content"]
    assert matrix["externalIds"] == {"imdb": "tt0133093", "tmdb": "603", "eidr": None}
    assert 0 <= matrix["qualityScore"] <= 10
    assert matrix["cast"][0]["person"]["name"] == "Keanu Reeves"
    assert {c["person"]["name"] for c in matrix["crew"]} == {"Lana Wachowski", "Lilly Wachowski"}
    assert all(c["job"] == "Director" for c in matrix["crew"])
    amelie = await client('{ content(id: "movie:amelie-2001") { originalTitle } }')
    assert amelie["data"]["content"]["originalTitle"] == "Le Fabuleux Destin d'Amélie Poulain"
    person = await client(
        """{ person(id: "person:tom-hanks") { name credits { role content { title } } } }"""
    )
    hanks = person["data"]["person"]
    assert hanks["name"] == "Tom Hanks"
    assert {"Forrest Gump", "Toy Story", "Saving Private Ryan"} <= {
        c["content"]["title"] for c in hanks["credits"]
    }
    assert (await client('{ person(id: "person:nobody") { name } }'))["data"]["person"] is None


async def test_leaving_soon(client: CatalogClient, settings: Settings) -> None:
    query = """query($r: String!, $d: Int!) { leavingSoon(region: $r, days: $d) {
                 leavesAt content { title contentRating } offer { platform region } } }"""
    body = await client(query, {"r": "us", "d": 30})
    assert "errors" not in body, body
    rows = body["data"]["leavingSoon"]
    assert rows
    now = datetime.now(UTC)
    moments = [datetime.fromisoformat(r["leavesAt"]) for r in rows]
    assert moments == sorted(moments)
    assert all(now < m <= now + timedelta(days=30, minutes=5) for m in moments)
    assert all(r["offer"]["region"] == "US" for r in rows)
    soon = (await client(query, {"r": "US", "d": 5}))["data"]["leavingSoon"]
    assert len(soon) < len(rows)
    kids = profile_token(settings, "G")
    limited = (await client(query, {"r": "US", "d": 30}, token=kids))["data"]["leavingSoon"]
    assert all(r["content"]["contentRating"] in {"G", "TV-G", "TV-Y", "TV-Y7"} for r in limited)
    assert error_codes(await client(query, {"r": "US", "d": -3})) == ["BAD_USER_INPUT"]


async def test_search_query_document_is_valid_with_all_fields(client: CatalogClient) -> None:
    body = await client(SEARCH, {"q": "alien", "first": 2})
    assert "errors" not in body
