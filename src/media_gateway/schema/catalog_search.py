"""Search analytics and editors' query rules: the types operators read (``search:admin``)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from media_gateway.schema.catalog import CatalogContext
from media_gateway.schema.common import bad_input, clamp_first
from media_gateway.subgraphs.catalog.search import analytics
from media_gateway.subgraphs.catalog.search.synonyms import QueryRule

Info = strawberry.Info[CatalogContext, None]


@strawberry.enum(description="How an editor's rule applies to search queries.")
class SearchRuleKind(Enum):
    SYNONYM = "synonym"  # replaces a word or phrase wherever it stands in a query
    REWRITE = "rewrite"  # replaces a whole query


@strawberry.type(description="One normalised query's searches in the window.")
class SearchQueryStats:
    query: str = strawberry.field(description="The query, folded and single-spaced.")
    searches: int = strawberry.field(description="Times it was searched.")
    viewers: int = strawberry.field(description="Distinct signed-in viewers who searched it.")
    zero_result_searches: int = strawberry.field(description="Searches that found nothing.")
    average_results: float = strawberry.field(description="Mean number of results.")
    searches_with_play: int = strawberry.field(
        description="Searches followed by a playback started from their results."
    )
    click_through_rate: float = strawberry.field(
        description="searchesWithPlay / searches, from 0 to 1."
    )
    last_searched_at: datetime

    @classmethod
    def of(cls, stats: analytics.QueryStats) -> SearchQueryStats:
        return cls(
            query=stats.query,
            searches=stats.searches,
            viewers=stats.viewers,
            zero_result_searches=stats.zero_result_searches,
            average_results=round(stats.average_results, 4),
            searches_with_play=stats.searches_with_play,
            click_through_rate=round(stats.click_through_rate, 6),
            last_searched_at=stats.last_searched_at,
        )


def page_size(first: int | None) -> int:
    if first is not None and first < 0:
        raise bad_input("`first` must not be negative.", argumentName="first")
    return clamp_first(first)


@strawberry.type(
    description=(
        "Searches made in [since, until) (in one region, if given): how many, how many were "
        "followed by a playback, and the queries behind them."
    )
)
class SearchAnalytics:
    since: datetime
    until: datetime
    region: str | None = strawberry.field(description="The region counted; null: every one.")
    searches: int = strawberry.field(description="Searches recorded (first pages with a query).")
    queries: int = strawberry.field(description="Distinct normalised queries.")
    zero_result_searches: int = strawberry.field(description="Searches that found nothing.")
    searches_with_play: int = strawberry.field(
        description="Searches followed by at least one playback started from their results."
    )
    plays: int = strawberry.field(description="Playbacks started from search results.")
    click_through_rate: float = strawberry.field(
        description="Click-through from search to playback: searchesWithPlay / searches."
    )
    window: strawberry.Private[analytics.Window]

    @classmethod
    def of(cls, window: analytics.Window, summary: analytics.SearchSummary) -> SearchAnalytics:
        return cls(
            since=window.since,
            until=window.until,
            region=window.region,
            searches=summary.searches,
            queries=summary.queries,
            zero_result_searches=summary.zero_result_searches,
            searches_with_play=summary.searches_with_play,
            plays=summary.plays,
            click_through_rate=round(summary.click_through_rate, 6),
            window=window,
        )

    async def _stats(self, info: Info, order: str, first: int | None) -> list[SearchQueryStats]:
        rows = await info.context.search_analytics.query_stats(self.window, order, page_size(first))
        return [SearchQueryStats.of(r) for r in rows]

    @strawberry.field(description="The most searched queries, most searches first.")
    async def top_queries(self, info: Info, first: int | None = 20) -> list[SearchQueryStats]:
        return await self._stats(info, "top", first)

    @strawberry.field(description="Queries that found nothing, most such searches first.")
    async def zero_result_queries(
        self, info: Info, first: int | None = 20
    ) -> list[SearchQueryStats]:
        return await self._stats(info, "zero_results", first)

    @strawberry.field(
        description="Queries that found titles none of which was ever played from them."
    )
    async def unplayed_queries(self, info: Info, first: int | None = 20) -> list[SearchQueryStats]:
        return await self._stats(info, "unplayed", first)


@strawberry.type(description="A query searched more lately than the baseline before predicts.")
class TrendingSearch:
    query: str
    region: str | None = strawberry.field(description="Null for searches without a region.")
    recent_searches: int = strawberry.field(description="Searches in the recent window.")
    baseline_searches: int = strawberry.field(description="Searches in the baseline window.")
    lift: float = strawberry.field(
        description=(
            "(recentSearches + 1) / (baselineSearches scaled to the recent window's length + 1)"
        )
    )

    @classmethod
    def of(cls, trending: analytics.TrendingQuery) -> TrendingSearch:
        return cls(
            query=trending.query,
            region=trending.region,
            recent_searches=trending.recent_searches,
            baseline_searches=trending.baseline_searches,
            lift=round(trending.lift, 6),
        )


@strawberry.type(
    description=(
        "A rewrite viewers make: they searched fromQuery, found nothing (or nothing they "
        "played), then searched toQuery within two minutes and played a result."
    )
)
class SearchRewriteProposal:
    from_query: str
    to_query: str
    rewrites: int = strawberry.field(description="Times a viewer went from one to the other.")
    viewers: int = strawberry.field(description="Distinct viewers who did.")
    from_zero_results: int = strawberry.field(
        description="Of the rewrites, how many followed a search that found nothing."
    )
    accepted: bool = strawberry.field(description="Whether a REWRITE rule already applies it.")


@strawberry.type(description="An editor's synonym or rewrite, applied to every search query.")
class SearchSynonym:
    id: strawberry.ID
    kind: SearchRuleKind
    term: str = strawberry.field(description="What a query holds (normalised).")
    replacement: str = strawberry.field(description="What is searched instead (normalised).")
    created_by: strawberry.ID | None
    created_at: datetime

    @classmethod
    def of(cls, rule: QueryRule) -> SearchSynonym:
        return cls(
            id=strawberry.ID(rule.id),
            kind=SearchRuleKind(rule.kind),
            term=rule.term,
            replacement=rule.replacement,
            created_by=strawberry.ID(rule.created_by) if rule.created_by else None,
            created_at=rule.created_at,
        )
