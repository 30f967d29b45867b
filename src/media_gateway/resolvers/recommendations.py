"""Recommendation queries and mutations: translate GraphQL to calls of the serving, experiment
and exposure services."""

from __future__ import annotations

from collections.abc import Awaitable

import strawberry

from media_gateway.auth.profiles import profile_of
from media_gateway.schema import references
from media_gateway.schema.common import ClientError, bad_input, clamp_first, forbidden, not_found
from media_gateway.schema.context import require_viewer
from media_gateway.schema.recommendations import (
    Content,
    ExperimentResults,
    ExperimentState,
    Info,
    OutcomeKind,
    RateInterval,
    TitleFeedback,
    TrendingWindow,
    VariantComparison,
    VariantInput,
    VariantResults,
    audience,
)
from media_gateway.subgraphs.recommendations.experiments import (
    OUTCOME_KINDS,
    Experiment,
    ExperimentError,
    ExperimentNotFound,
    ExperimentStateError,
    Variant,
    compare,
)
from media_gateway.subgraphs.recommendations.feedback import FeedbackError
from media_gateway.subgraphs.recommendations.ranker import BlendWeights

ADMIN_SCOPE = "recommendations:admin"
# what each operation needs (``@requiresScopes``): enforced here by the authorization
# extension and again by the router
WRITE = [["recommendations:write"]]
ADMIN = [[ADMIN_SCOPE]]


def require_admin(info: Info) -> str:
    user_id = require_viewer(info.context)
    viewer = info.context.viewer
    if viewer is None or ADMIN_SCOPE not in viewer.scopes:
        raise forbidden(f"This needs the {ADMIN_SCOPE} scope.")
    return user_id


def _rate(kind: str, count: int, rate: tuple[float, float, float]) -> RateInterval:
    return RateInterval(kind=kind, count=count, rate=rate[0], low=rate[1], high=rate[2])


async def _results(info: Info, experiment_id: str) -> ExperimentResults:
    found = await info.context.experiments.results(experiment_id)
    if found is None:
        raise not_found(f"No experiment {experiment_id!r}.")
    experiment, variants = found
    return ExperimentResults(
        id=strawberry.ID(experiment.id),
        name=experiment.name,
        active=experiment.active,
        state=ExperimentState(experiment.state),
        created_at=experiment.created_at,
        started_at=experiment.started_at,
        stopped_at=experiment.stopped_at,
        concluded_at=experiment.concluded_at,
        winner=experiment.winner,
        comparisons=[
            VariantComparison(
                variant=c.variant,
                control=c.control,
                kind=c.kind,
                difference=round(c.difference, 6),
                low=round(c.low, 6),
                high=round(c.high, 6),
            )
            for c in compare(variants)
        ],
        exposures=sum(v.exposures for v in variants),
        variants=[
            VariantResults(
                name=v.name,
                share=v.share,
                members=v.members,
                exposures=v.exposures,
                rates=[
                    _rate(kind, v.outcomes.get(kind, 0), v.rate(kind)) for kind in OUTCOME_KINDS
                ],
            )
            for v in variants
        ],
    )


async def _experiment_change(change: Awaitable[Experiment]) -> Experiment:
    """An experiment's state change, its refusals as client errors."""
    try:
        return await change
    except ExperimentNotFound as exc:
        raise not_found(str(exc)) from None
    except ExperimentStateError as exc:
        raise ClientError(str(exc), "CONFLICT", state=exc.state.upper()) from None
    except ExperimentError as exc:
        raise bad_input(str(exc)) from None


@strawberry.type
class Query:
    @strawberry.field(description="Titles many viewers watched lately (in a region, if given).")
    async def trending(
        self,
        info: Info,
        first: int | None = 20,
        region: str | None = None,
        window: TrendingWindow = TrendingWindow.WEEK,
    ) -> list[Content] | None:
        rows = await info.context.serving.trending(
            clamp_first(first), region, window.value, audience(info, region)
        )
        return [Content(id=strawberry.ID(r.content_id)) for r in rows]

    @strawberry.federation.field(
        requires_scopes=ADMIN,
        description="Per-variant rates of an A/B experiment (needs admin scope).",
    )
    async def experiment_results(self, info: Info, id: strawberry.ID) -> ExperimentResults:
        require_admin(info)
        return await _results(info, str(id))


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=ADMIN,
        description=(
            "Create an A/B experiment over blend weightings (admin): a draft, or started at "
            "once with start: true."
        ),
    )
    async def create_recommendation_experiment(
        self,
        info: Info,
        id: strawberry.ID,
        name: str,
        variants: list[VariantInput],
        start: bool = False,
    ) -> ExperimentResults:
        actor = require_admin(info)
        parsed = [
            Variant(
                name=v.name,
                share=v.share,
                weights=BlendWeights(**vars(v.weights)) if v.weights else BlendWeights(),
            )
            for v in variants
        ]
        try:
            await info.context.experiments.create(
                str(id), name, parsed, actor_id=actor, start=start
            )
        except ExperimentError as exc:
            raise bad_input(str(exc)) from exc
        return await _results(info, str(id))

    @strawberry.federation.mutation(
        requires_scopes=ADMIN,
        description="Serve a draft or stopped experiment (admin); CONFLICT in other states.",
    )
    async def start_recommendation_experiment(
        self, info: Info, id: strawberry.ID
    ) -> ExperimentResults:
        actor = require_admin(info)
        await _experiment_change(info.context.experiments.start(str(id), actor_id=actor))
        return await _results(info, str(id))

    @strawberry.federation.mutation(
        requires_scopes=ADMIN,
        description="Stop serving a running experiment (admin); it may be started again.",
    )
    async def stop_recommendation_experiment(
        self, info: Info, id: strawberry.ID
    ) -> ExperimentResults:
        actor = require_admin(info)
        await _experiment_change(info.context.experiments.stop(str(id), actor_id=actor))
        return await _results(info, str(id))

    @strawberry.federation.mutation(
        requires_scopes=ADMIN,
        description=(
            "End an experiment for good (admin), naming the variant kept if one was chosen; "
            "it is no longer served and cannot be started again."
        ),
    )
    async def conclude_recommendation_experiment(
        self, info: Info, id: strawberry.ID, winner: str | None = None
    ) -> ExperimentResults:
        actor = require_admin(info)
        await _experiment_change(
            info.context.experiments.conclude(str(id), winner=winner, actor_id=actor)
        )
        return await _results(info, str(id))

    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description="Log what the member did with a recommended title (click, play, finish).",
    )
    async def record_recommendation_outcome(
        self, info: Info, content_id: strawberry.ID, kind: OutcomeKind
    ) -> int:
        user_id = require_viewer(info.context)
        await references.titles(info.context.database).require(
            [str(content_id)], info.context.viewer
        )
        return await info.context.exposures.record_outcome(user_id, str(content_id), kind.value)

    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description=(
            "Rate a title 1 to 5 stars for the active profile. 4 and 5 lift similar titles; "
            "1 and 2 count against the title and the titles like it."
        ),
    )
    async def rate_title(self, info: Info, content_id: strawberry.ID, stars: int) -> TitleFeedback:
        return await _feedback(info, str(content_id), stars)

    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description=(
            "Not for me: the active profile's recommendations count against this title and "
            "the titles like it (a later rating replaces it)."
        ),
    )
    async def dislike_title(self, info: Info, content_id: strawberry.ID) -> TitleFeedback:
        return await _feedback(info, str(content_id), None)


async def _feedback(info: Info, content_id: str, stars: int | None) -> TitleFeedback:
    user_id = require_viewer(info.context)
    if stars is not None and not 1 <= stars <= 5:
        raise bad_input("A rating is 1 to 5 stars.", field="stars")
    await references.titles(info.context.database).require([content_id], info.context.viewer)
    try:
        weight = await info.context.exposures.record_feedback(
            user_id, profile_of(info.context.viewer), content_id, stars
        )
    except FeedbackError as exc:
        raise bad_input(str(exc), field="stars") from exc
    return TitleFeedback(
        content=Content(id=strawberry.ID(content_id)),
        stars=stars,
        disliked=stars is None,
        weight=weight,
    )
