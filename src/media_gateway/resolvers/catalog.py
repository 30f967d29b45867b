"""Catalog queries: translate GraphQL to ``CatalogService`` calls."""

from __future__ import annotations

import strawberry

from media_gateway.auth.profiles import profile_of
from media_gateway.platform import ratings
from media_gateway.schema.catalog import (
    Availability,
    Content,
    ContentEdge,
    ContentKind,
    ExpiringOffer,
    FacetValue,
    Genre,
    Info,
    OfferType,
    Person,
    QueryInterpretation,
    RelaxedConstraint,
    SearchFacets,
    SearchFilters,
    SearchResult,
    Suggestion,
    SuggestionKind,
    content_from_record,
)
from media_gateway.schema.common import (
    MAX_PAGE_SIZE,
    PageInfo,
    bad_input,
    clamp_first,
    decode_cursor,
    encode_cursor,
    forbidden,
)
from media_gateway.subgraphs.catalog import search as engine
from media_gateway.subgraphs.catalog.search.engine import FacetValue as EngineFacetValue
from media_gateway.subgraphs.catalog.search.vocabulary import genre_key, platform_key

MAX_AUTOCOMPLETE = 20
MAX_LEAVING_DAYS = 365


def _engine_filters(info: Info, filters: SearchFilters | None) -> engine.SearchFilters:
    """Validate and canonicalise GraphQL filters; unknown values are client errors."""
    result = engine.SearchFilters(max_content_rating=info.context.max_content_rating)
    if filters is None:
        return result
    if filters.genres:
        genres = [genre_key(g) for g in filters.genres]
        unknown = [g for g, key in zip(filters.genres, genres, strict=True) if key is None]
        if unknown:
            raise bad_input(f"Unknown genre: {', '.join(unknown[:5])}.", argumentName="filters")
        result.genres = [g for g in genres if g]
    if filters.platforms:
        platforms = [platform_key(p) for p in filters.platforms]
        unknown = [p for p, key in zip(filters.platforms, platforms, strict=True) if key is None]
        if unknown:
            raise bad_input(f"Unknown platform: {', '.join(unknown[:5])}.", argumentName="filters")
        result.platforms = [p for p in platforms if p]
    if filters.offer_types:
        result.offer_types = [o.value for o in filters.offer_types]
    if filters.regions:
        result.regions = [r.strip().upper() for r in filters.regions]
    if filters.kinds:
        result.kinds = [k.value for k in filters.kinds]
    if filters.content_ratings:
        unknown = [r for r in filters.content_ratings if not ratings.is_known(r)]
        if unknown:
            raise bad_input(
                f"Unknown content rating: {', '.join(unknown[:5])}.", argumentName="filters"
            )
        result.content_ratings = [ratings.normalize(r) or r for r in filters.content_ratings]
    if filters.max_content_rating is not None:
        if not ratings.is_known(filters.max_content_rating):
            raise bad_input("Unknown content rating.", argumentName="filters")
        mine = info.context.max_content_rating
        asked = ratings.normalize(filters.max_content_rating)
        result.max_content_rating = (
            asked if mine is None or ratings.rank(asked) < ratings.rank(mine) else mine
        )
    for low, high, name in (
        (filters.year_from, filters.year_to, "year"),
        (filters.min_rating, filters.max_rating, "rating"),
        (filters.min_runtime, filters.max_runtime, "runtime"),
    ):
        if low is not None and high is not None and low > high:
            raise bad_input(f"The {name} range is empty.", argumentName="filters")
    result.year_from, result.year_to = filters.year_from, filters.year_to
    result.min_rating, result.max_rating = filters.min_rating, filters.max_rating
    result.min_runtime, result.max_runtime = filters.min_runtime, filters.max_runtime
    return result


def _facet_values(values: list[EngineFacetValue]) -> list[FacetValue]:
    return [FacetValue(value=v.value, count=v.count, selected=v.selected) for v in values]


def _interpretation(parsed: engine.SearchOutcome) -> QueryInterpretation | None:
    p = parsed.interpretation
    if p is None:
        return None
    return QueryInterpretation(
        text=p.text,
        genres=p.genres,
        platforms=p.platforms,
        kinds=[ContentKind(k) for k in p.kinds],
        offer_types=[OfferType(o) for o in p.offer_types],
        year_from=p.year_from,
        year_to=p.year_to,
        max_runtime=p.max_runtime,
        min_rating=p.min_rating,
        max_content_rating=p.max_content_rating,
    )


TASTES_SCOPE = "recommendations:read"  # what is picked for the viewer, search order included


def _taste_owner(info: Info) -> tuple[str, str] | None:
    """The profile whose tastes order the results: a signed-in viewer whose token may read
    what is picked for them (``recommendations:read``); None (the same for anyone) else."""
    viewer = info.context.viewer
    if viewer is None or TASTES_SCOPE not in viewer.scopes:
        return None
    return viewer.subject, profile_of(viewer)


@strawberry.type
class Query:
    @strawberry.field(description="One title by id (FORBIDDEN above the profile's rating).")
    async def content(self, info: Info, id: strawberry.ID) -> Content | None:
        record = await info.context.loaders.contents.load(str(id))
        if record is None:
            return None
        if not info.context.may_see(record.content_rating):
            raise forbidden("This title is above the profile's content rating.")
        return content_from_record(record)

    @strawberry.field(description="Titles by id, in the order asked (null where unknown).")
    async def contents(self, info: Info, ids: list[strawberry.ID]) -> list[Content | None]:
        if len(ids) > MAX_PAGE_SIZE:
            raise bad_input(f"Ask for at most {MAX_PAGE_SIZE} ids at once.", argumentName="ids")
        records = await info.context.loaders.contents.load_many([str(i) for i in ids])
        return [
            content_from_record(r) if r and info.context.may_see(r.content_rating) else None
            for r in records
        ]

    @strawberry.field(description="One person (cast or crew) by id.")
    async def person(self, info: Info, id: strawberry.ID) -> Person | None:
        record = await info.context.loaders.people.load(str(id))
        return Person.from_record(record) if record else None

    @strawberry.field(
        description=(
            "Movies and series matching a query (keywords, typos corrected, or a request such "
            "as 'funny space movies from the 90s on netflix'), with filters and facets."
        )
    )
    async def search(
        self,
        info: Info,
        query: str = "",
        filters: SearchFilters | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> SearchResult:
        size = clamp_first(first)
        offset = decode_cursor(after)
        engine_filters = _engine_filters(info, filters)
        outcome = await info.context.search.hybrid_search(
            query, engine_filters, first=size, offset=offset, viewer=_taste_owner(info)
        )
        search_id = (
            info.context.search_analytics.record_search(
                query,
                regions=engine_filters.regions,
                viewer_id=info.context.viewer_id,
                result_count=outcome.total_count,
            )
            if offset == 0
            else None
        )
        records = await info.context.loaders.contents.load_many(outcome.ids)
        edges = [
            ContentEdge(cursor=encode_cursor(offset + i), node=content_from_record(record))
            for i, record in enumerate(records)
            if record is not None
        ]
        facets = outcome.facets
        return SearchResult(
            edges=edges,
            total_count=outcome.total_count,
            corrected_query=outcome.corrected_query,
            search_id=strawberry.ID(search_id) if search_id else None,
            interpretation=_interpretation(outcome),
            relaxed=[RelaxedConstraint(step) for step in outcome.relaxed],
            facets=SearchFacets(
                genres=_facet_values(facets.genres),
                platforms=_facet_values(facets.platforms),
                offer_types=_facet_values(facets.offer_types),
                release_years=_facet_values(facets.release_years),
                ratings=_facet_values(facets.ratings),
            ),
            page_info=PageInfo(
                has_next_page=offset + len(edges) < outcome.total_count,
                has_previous_page=offset > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(
        description="Titles, people and genres completing what was typed (from 2 characters)."
    )
    async def autocomplete(self, info: Info, prefix: str, limit: int = 8) -> list[Suggestion]:
        if limit < 0:
            raise bad_input("`limit` must not be negative.", argumentName="limit")
        hits = await info.context.search.autocomplete(
            prefix, min(limit, MAX_AUTOCOMPLETE), info.context.max_content_rating
        )
        return [
            Suggestion(
                kind=SuggestionKind(hit.suggestion.kind),
                id=strawberry.ID(hit.suggestion.id),
                text=hit.suggestion.text,
                score=round(hit.score, 4),
            )
            for hit in hits
        ]

    @strawberry.field(description="Offers in a region that end within the next days.")
    async def leaving_soon(
        self, info: Info, region: str, days: int = 30, first: int | None = 20
    ) -> list[ExpiringOffer]:
        if days < 0 or days > MAX_LEAVING_DAYS:
            raise bad_input(f"`days` must be 0 to {MAX_LEAVING_DAYS}.", argumentName="days")
        size = clamp_first(first)
        rows = await info.context.titles.leaving_soon(region, days, limit=size * 2)
        result = []
        for content, offer in rows:
            if not info.context.may_see(content.content_rating):
                continue
            availability = Availability.from_record(offer)
            assert availability.leaves_at is not None
            result.append(
                ExpiringOffer(
                    content=content_from_record(content),
                    offer=availability,
                    leaves_at=availability.leaves_at,
                )
            )
        return result[:size]

    @strawberry.field(description="Every genre of the catalog with its number of titles.")
    async def genres(self, info: Info) -> list[Genre]:
        return [
            Genre(name=g.name, title_count=g.title_count)
            for g in await info.context.titles.genres()
        ]
