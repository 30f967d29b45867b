"""Search analytics and editors' query rules (``search:admin``): translate GraphQL to calls of
``SearchAnalytics`` and ``QueryRules``."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from media_gateway.schema.catalog_search import (
    Info,
    SearchAnalytics,
    SearchRewriteProposal,
    SearchRuleKind,
    SearchSynonym,
    TrendingSearch,
    page_size,
)
from media_gateway.schema.common import bad_input, not_found
from media_gateway.schema.context import require_viewer
from media_gateway.subgraphs.catalog.search.analytics import (
    SearchAnalyticsError,
    Window,
    normalize_region,
)
from media_gateway.subgraphs.catalog.search.synonyms import QueryRuleError

# what each field needs (``@requiresScopes``): enforced here by the authorization extension
# and again by the router
SEARCH_ADMIN = [["search:admin"]]
MAX_RECENT_HOURS = 24 * 31
MAX_BASELINE_DAYS = 365


def _window(since: datetime | None, until: datetime | None, region: str | None) -> Window:
    try:
        return Window.of(since, until, region)
    except SearchAnalyticsError as exc:
        raise bad_input(str(exc)) from None


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=SEARCH_ADMIN,
        description=(
            "Search analytics over [since, until) (default: the last 7 days), in one region "
            "or all: counts, click-through to playback and the queries behind them."
        ),
    )
    async def search_analytics(
        self,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        region: str | None = None,
    ) -> SearchAnalytics:
        window = _window(since, until, region)
        return SearchAnalytics.of(window, await info.context.search_analytics.summary(window))

    @strawberry.federation.field(
        requires_scopes=SEARCH_ADMIN,
        description=(
            "Queries searched more in the last recentHours than the baselineDays before "
            "predict, per region (one, or each when not given); the highest lift first."
        ),
    )
    async def trending_searches(
        self,
        info: Info,
        region: str | None = None,
        recent_hours: int = 24,
        baseline_days: int = 7,
        first: int | None = 10,
    ) -> list[TrendingSearch]:
        if not 1 <= recent_hours <= MAX_RECENT_HOURS:
            raise bad_input(
                f"`recentHours` is 1 to {MAX_RECENT_HOURS}.", argumentName="recentHours"
            )
        if not 1 <= baseline_days <= MAX_BASELINE_DAYS:
            raise bad_input(
                f"`baselineDays` is 1 to {MAX_BASELINE_DAYS}.", argumentName="baselineDays"
            )
        try:
            code = normalize_region(region)
        except SearchAnalyticsError as exc:
            raise bad_input(str(exc), argumentName="region") from None
        found = await info.context.search_analytics.trending(
            code,
            recent=timedelta(hours=recent_hours),
            baseline=timedelta(days=baseline_days),
            first=page_size(first),
        )
        return [TrendingSearch.of(t) for t in found]

    @strawberry.federation.field(
        requires_scopes=SEARCH_ADMIN,
        description=(
            "Rewrites viewers make (a failed query, then one they played from), seen from at "
            "least minViewers viewers; accept one with createSearchSynonym(kind: REWRITE)."
        ),
    )
    async def search_rewrite_proposals(
        self,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        min_viewers: int = 2,
        first: int | None = 20,
    ) -> list[SearchRewriteProposal]:
        if min_viewers < 1:
            raise bad_input("`minViewers` must be at least 1.", argumentName="minViewers")
        window = _window(since, until, None)
        proposals = await info.context.search_analytics.rewrite_proposals(
            window, min_viewers=min_viewers, first=page_size(first)
        )
        accepted = {(r.term, r.replacement) for r in await info.context.query_rules.list("rewrite")}
        return [
            SearchRewriteProposal(
                from_query=p.from_query,
                to_query=p.to_query,
                rewrites=p.rewrites,
                viewers=p.viewers,
                from_zero_results=p.from_zero_results,
                accepted=(p.from_query, p.to_query) in accepted,
            )
            for p in proposals
        ]

    @strawberry.federation.field(
        requires_scopes=SEARCH_ADMIN, description="The editors' synonyms and rewrites."
    )
    async def search_synonyms(
        self, info: Info, kind: SearchRuleKind | None = None
    ) -> list[SearchSynonym]:
        rules = await info.context.query_rules.list(kind.value if kind else None)
        return [SearchSynonym.of(r) for r in rules]


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=SEARCH_ADMIN,
        description=(
            "Add a synonym (a word or phrase of a query replaced wherever it stands) or a "
            "rewrite (a whole query replaced); search applies it at once."
        ),
    )
    async def create_search_synonym(
        self,
        info: Info,
        term: str,
        replacement: str,
        kind: SearchRuleKind = SearchRuleKind.SYNONYM,
    ) -> SearchSynonym:
        actor = require_viewer(info.context)
        try:
            rule = await info.context.query_rules.create(
                kind.value, term, replacement, actor_id=actor
            )
        except QueryRuleError as exc:
            raise bad_input(str(exc)) from None
        return SearchSynonym.of(rule)

    @strawberry.federation.mutation(
        requires_scopes=SEARCH_ADMIN, description="Remove a synonym or rewrite; returns it."
    )
    async def delete_search_synonym(self, info: Info, id: strawberry.ID) -> SearchSynonym:
        actor = require_viewer(info.context)
        rule = await info.context.query_rules.delete(str(id), actor_id=actor)
        if rule is None:
            raise not_found(f"No synonym or rewrite {id!r}.")
        return SearchSynonym.of(rule)
