"""Recommendation queries and mutations: translate GraphQL to calls of the serving, experiment
and exposure services."""

from __future__ import annotations

import strawberry

from media_gateway.schema import references
from media_gateway.schema.common import bad_input, clamp_first, forbidden, not_found
from media_gateway.schema.context import require_viewer
from media_gateway.schema.recommendations import (
    Content,
    ExperimentResults,
    Info,
    OutcomeKind,
    RateInterval,
    TrendingWindow,
    VariantInput,
    VariantResults,
    audience,
)
from media_gateway.subgraphs.recommendations.experiments import (
    OUTCOME_KINDS,
    ExperimentError,
    Variant,
)
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
        description="Start an A/B experiment over blend weightings (admin).",
    )
    async def create_recommendation_experiment(
        self, info: Info, id: strawberry.ID, name: str, variants: list[VariantInput]
    ) -> ExperimentResults:
        require_admin(info)
        parsed = [
            Variant(
                name=v.name,
                share=v.share,
                weights=BlendWeights(**vars(v.weights)) if v.weights else BlendWeights(),
            )
            for v in variants
        ]
        try:
            await info.context.experiments.create(str(id), name, parsed)
        except ExperimentError as exc:
            raise bad_input(str(exc)) from exc
        return await _results(info, str(id))

    @strawberry.federation.mutation(
        requires_scopes=ADMIN, description="Stop serving an experiment (admin)."
    )
    async def stop_recommendation_experiment(self, info: Info, id: strawberry.ID) -> bool:
        require_admin(info)
        if not await info.context.experiments.stop(str(id)):
            raise not_found(f"No experiment {id!r}.")
        return True

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
