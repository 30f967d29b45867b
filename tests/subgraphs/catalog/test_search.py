"""Search on the catalog subgraph over the demo catalog: hybrid retrieval, spelling, synonyms,
natural-language queries, filters, disjunctive facets, pagination and bad input."""

from __future__ import annotations

from typing import Any

from .conftest import CatalogClient, error_codes

SEARCH = """
query($q: String!, $filters: SearchFilters, $first: Int, $after: String) {
  search(query: $q, filters: $filters, first: $first, after: $after) {
    totalCount
    correctedQuery
    interpretation { text genres platforms kinds yearFrom yearTo }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { __typename id title year contentRating genres
                          availability { platform region offerType } } }
    facets {
      genres { value count selected }
      platforms { value count selected }
      offerTypes { value count selected }
      releaseYears { value count }
      ratings { value count }
    }
  }
}
"""


async def search(client: CatalogClient, q: str, token: str | None = None, **variables: Any) -> Any:
    body = await client(SEARCH, {"q": q, **variables}, token=token)
    assert "errors" not in body, body
    return body["data"]["search"]


def titles(result: dict[str, Any]) -> list[str]:
    return [edge["node"]["title"] for edge in result["edges"]]


def facet(result: dict[str, Any], name: str) -> dict[str, int]:
    return {value["value"]: value["count"] for value in result["facets"][name]}


async def test_keyword_search_ranks_the_exact_title_first(client: CatalogClient) -> None:
    result = await search(client, "the matrix", first=5)
    assert titles(result)[0] == "The Matrix"
    assert result["correctedQuery"] is None


async def test_people_are_searchable_and_stemming_applies(client: CatalogClient) -> None:
    keanu = await search(client, "keanu reeves", first=5)
    assert titles(keanu)[0] == "The Matrix"
    nolan = titles(await search(client, "christopher nolan", first=10))
    assert {"Inception", "Interstellar", "The Dark Knight"} <= set(nolan)
    # "ring" finds "Rings" (English stemming)
    rings = titles(await search(client, "lord ring", first=5))
    assert rings and all("Lord of the Rings" in t for t in rings[:3])


async def test_accents_do_not_matter(client: CatalogClient) -> None:
    assert titles(await search(client, "amelie", first=3))[0] == "Amélie"


async def test_spelling_is_corrected_before_retrieval(client: CatalogClient) -> None:
    result = await search(client, "the matirx", first=3)
    assert result["correctedQuery"] == "the matrix"
    assert titles(result)[0] == "The Matrix"
    result = await search(client, "interstelar", first=3)
    assert result["correctedQuery"] == "interstellar"
    assert titles(result)[0] == "Interstellar"


async def test_synonyms_expand_the_query(client: CatalogClient) -> None:
    result = await search(client, "sci-fi", first=20)
    assert result["totalCount"] >= 50
    assert all("Science Fiction" in edge["node"]["genres"] for edge in result["edges"])


async def test_natural_language_query_becomes_filters(client: CatalogClient) -> None:
    result = await search(client, "funny movies from the 90s on netflix", first=50)
    interpretation = result["interpretation"]
    assert interpretation == {
        "text": "",
        "genres": ["Comedy"],
        "platforms": ["Netflix"],
        "kinds": ["MOVIE"],
        "yearFrom": 1990,
        "yearTo": 1999,
    }
    assert result["totalCount"] > 0
    for edge in result["edges"]:
        node = edge["node"]
        assert node["__typename"] == "Movie" and 1990 <= node["year"] <= 1999
        assert "Comedy" in node["genres"]
        assert any(offer["platform"] == "Netflix" for offer in node["availability"])
    space = await search(client, "funny space movies from the 90s on netflix")
    assert space["interpretation"]["text"] == "space"


async def test_a_title_that_reads_like_a_request_stays_a_title(client: CatalogClient) -> None:
    result = await search(client, "Crime and Punishment")
    assert result["interpretation"] is None


async def test_filters_restrict_every_result(client: CatalogClient) -> None:
    filters = {
        "genres": ["drama"],
        "platforms": ["Netflix", "hulu"],
        "offerTypes": ["SUBSCRIPTION"],
        "regions": ["us"],
        "yearFrom": 1980,
        "yearTo": 2010,
        "minRuntime": 90,
        "maxRuntime": 200,
        "maxContentRating": "R",
        "minRating": 6.0,
    }
    result = await search(client, "", filters=filters, first=100)
    assert 0 < result["totalCount"] <= 100
    for edge in result["edges"]:
        node = edge["node"]
        assert "Drama" in node["genres"] and 1980 <= node["year"] <= 2010
        assert node["contentRating"] in {"G", "PG", "PG-13", "R", "TV-G", "TV-PG", "TV-14"}
        assert any(
            o["platform"] in {"Netflix", "Hulu"}
            and o["region"] == "US"
            and o["offerType"] == "SUBSCRIPTION"
            for o in node["availability"]
        )


async def test_facets_count_the_whole_set_and_are_disjunctive(client: CatalogClient) -> None:
    both = {"genres": ["Comedy"], "platforms": ["Netflix"]}
    result = await search(client, "", filters=both, first=1)
    total = result["totalCount"]
    assert total > 1 and len(result["edges"]) == 1
    genres, platforms = facet(result, "genres"), facet(result, "platforms")
    # the selected values count exactly the matching set
    assert genres["Comedy"] == total and platforms["Netflix"] == total
    assert next(v for v in result["facets"]["genres"] if v["value"] == "Comedy")["selected"]
    # another genre's count is what selecting it instead would find (platform filter kept)
    drama = await search(client, "", filters={"genres": ["Drama"], "platforms": ["Netflix"]})
    assert genres["Drama"] == drama["totalCount"]
    # another platform's count keeps the genre filter
    hulu = await search(client, "", filters={"genres": ["Comedy"], "platforms": ["Hulu"]})
    assert platforms["Hulu"] == hulu["totalCount"]
    # decades and rating buckets partition the matching set
    assert sum(facet(result, "releaseYears").values()) == total
    assert sum(facet(result, "ratings").values()) == total
    assert sum(facet(result, "offerTypes").values()) >= total


async def test_year_facet_ignores_the_year_filter(client: CatalogClient) -> None:
    result = await search(
        client, "", filters={"genres": ["Horror"], "yearFrom": 1970, "yearTo": 1979}
    )
    years = facet(result, "releaseYears")
    assert years["1970s"] == result["totalCount"]
    assert sum(years.values()) > result["totalCount"]  # other decades still counted


async def test_cursor_pagination(client: CatalogClient) -> None:
    whole = await search(client, "the", first=12)
    first = await search(client, "the", first=6)
    second = await search(client, "the", first=6, after=first["pageInfo"]["endCursor"])
    assert first["pageInfo"]["hasNextPage"] and second["pageInfo"]["hasPreviousPage"]
    assert titles(first) + titles(second) == titles(whole)
    assert first["totalCount"] == second["totalCount"] == whole["totalCount"]


async def test_bad_input_is_answered(client: CatalogClient) -> None:
    everything = await search(client, "", first=5)
    assert everything["totalCount"] >= 600 and len(everything["edges"]) == 5
    long = await search(client, "x" * 10_000)
    assert long["totalCount"] >= 0
    assert (await search(client, "100%_ \\ AND OR ( :"))["totalCount"] >= 0
    cases = [
        {"q": "x", "after": "garbage!"},
        {"q": "x", "first": -1},
        {"q": "x", "filters": {"genres": ["Telenovela-Noir"]}},
        {"q": "x", "filters": {"platforms": ["Blockbuster"]}},
        {"q": "x", "filters": {"contentRatings": ["XXX"]}},
        {"q": "x", "filters": {"yearFrom": 2000, "yearTo": 1990}},
    ]
    for variables in cases:
        body = await client(SEARCH, variables)
        assert error_codes(body) == ["BAD_USER_INPUT"], (variables, body)
    unknown_region = await search(client, "", filters={"regions": ["ZZ"]})
    assert unknown_region["totalCount"] == 0
