"""Recommendation types; extends ``User`` and ``Content``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from media_gateway.auth.profiles import profile_of
from media_gateway.dataloaders.recommendations import RecommendationLoaders
from media_gateway.schema.common import clamp_first
from media_gateway.schema.context import RequestContext, require_viewer
from media_gateway.subgraphs.recommendations.experiments import ExperimentService
from media_gateway.subgraphs.recommendations.exposures import ExposureService
from media_gateway.subgraphs.recommendations.rows import RowService
from media_gateway.subgraphs.recommendations.selection import Audience, Scored, Situation
from media_gateway.subgraphs.recommendations.serving import ServingService


@dataclass
class RecommendationsContext(RequestContext):
    """The recommendations subgraph's per-request context."""

    serving: ServingService
    rows: RowService
    experiments: ExperimentService
    exposures: ExposureService
    loaders: RecommendationLoaders


Info = strawberry.Info[RecommendationsContext, None]
READ = [["recommendations:read"]]  # what is picked for the viewer (``@requiresScopes``)


@strawberry.enum(description="Why a title was recommended.")
class RecommendationReason(Enum):
    WATCHED_SIMILAR = "WATCHED_SIMILAR"
    POPULAR = "POPULAR"
    GENRE = "GENRE"
    TRENDING = "TRENDING"


@strawberry.enum(description="What a home-screen row is.")
class RowKind(Enum):
    TOP_PICKS = "TOP_PICKS"
    BECAUSE_YOU_WATCHED = "BECAUSE_YOU_WATCHED"
    GENRE = "GENRE"
    TRENDING = "TRENDING"
    POPULAR = "POPULAR"


@strawberry.enum(description="Time of day on the viewer's device.")
class TimeOfDay(Enum):
    MORNING = "MORNING"
    AFTERNOON = "AFTERNOON"
    EVENING = "EVENING"
    NIGHT = "NIGHT"


@strawberry.enum(description="The kind of device asking.")
class DeviceType(Enum):
    TV = "TV"
    MOBILE = "MOBILE"
    TABLET = "TABLET"
    WEB = "WEB"


@strawberry.enum(description="How far back trending looks.")
class TrendingWindow(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@strawberry.input(
    description=(
        "The situation of a request: a genre hint lifts titles of that genre, a phone or a "
        "late hour lifts shorter titles, mornings lift family titles."
    )
)
class RecommendationContext:
    time_of_day: TimeOfDay | None = None
    device_type: DeviceType | None = None
    genre_hint: str | None = strawberry.field(default=None, description="A genre or mood.")
    region: str | None = strawberry.field(
        default=None, description="ISO 3166 region: titles without an offer there are left out."
    )


def _situation(context: RecommendationContext | None) -> Situation | None:
    if context is None:
        return None
    return Situation(
        time_of_day=context.time_of_day.value if context.time_of_day else None,
        device_type=context.device_type.value if context.device_type else None,
        genre_hint=context.genre_hint,
    )


def viewer_claim(info: Info, name: str) -> Any:
    """A claim of the active profile (typed attribute when present, else the raw token)."""
    viewer = info.context.viewer
    if viewer is None:
        return None
    value = getattr(viewer, name, None)
    if value is None:
        value = viewer.raw.get(name)
    return value


def audience(info: Info, region: str | None) -> Audience:
    max_rating = viewer_claim(info, "max_content_rating")
    if max_rating is None and viewer_claim(info, "kids"):
        max_rating = "G"  # a kids profile without an explicit limit
    return Audience(region=(region or "").upper() or None, max_rating=max_rating)


@strawberry.federation.interface_object(keys=["id"], description="A title (owned by the catalog).")
class Content:
    id: strawberry.ID

    @strawberry.field(description="Titles viewers of this one watched next or alongside it.")
    async def similar(self, info: Info, first: int | None = 10) -> list[Content] | None:
        rows = await info.context.loaders.similar.load((str(self.id), clamp_first(first, 10)))
        return [Content(id=strawberry.ID(r.content_id)) for r in rows]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Content:
        return cls(id=id)


@strawberry.type(description="A title recommended to a member, with a reason to show.")
class Recommendation:
    content: Content
    score: float
    reason_kind: RecommendationReason
    reason: str
    based_on: Content | None = strawberry.field(
        description="The watched title this recommendation is most related to."
    )
    experiment_id: str | None = strawberry.field(
        default=None, description="The experiment this answer was served under, if any."
    )
    variant: str | None = strawberry.field(
        default=None, description="The experiment variant this member is assigned to."
    )

    @classmethod
    def from_scored(
        cls, scored: Scored, experiment_id: str | None = None, variant: str | None = None
    ) -> Recommendation:
        kind = RecommendationReason(scored.kind)
        if kind is RecommendationReason.TRENDING:
            reason = "Trending with viewers right now"
        elif kind is RecommendationReason.POPULAR:
            reason = "Popular with viewers right now"
        elif scored.based_on_title:
            reason = f"Because you watched {scored.based_on_title}"
        else:
            reason = "Picked from everything you watched"
        return cls(
            content=Content(id=strawberry.ID(scored.content_id)),
            score=round(scored.score, 6),
            reason_kind=kind,
            reason=reason,
            based_on=Content(id=strawberry.ID(scored.based_on)) if scored.based_on else None,
            experiment_id=experiment_id,
            variant=variant,
        )


@strawberry.type(description="What the active profile told the recommender about a title.")
class TitleFeedback:
    content: Content
    stars: int | None = strawberry.field(description="1 to 5; null for a dislike.")
    disliked: bool
    weight: float = strawberry.field(
        description=(
            "How the title now counts in the profile's recommendations: positive lifts its "
            "neighbours, negative (a low rating or a dislike) counts against them."
        )
    )


@strawberry.type(description="A home-screen row with a reason a client can show.")
class RecommendationRow:
    id: strawberry.ID
    kind: RowKind
    title: str = strawberry.field(description='e.g. "Because you watched The Matrix".')
    reason: str
    based_on: Content | None
    genre: str | None
    items: list[Recommendation]


@strawberry.federation.type(keys=["id"], description="A member account (owned by identity).")
class User:
    id: strawberry.ID

    @strawberry.federation.field(
        requires_scopes=READ,
        description="Titles picked for the active profile (from its own history), best first.",
    )
    async def recommendations(
        self,
        info: Info,
        first: int | None = 20,
        context: RecommendationContext | None = None,
    ) -> list[Recommendation] | None:
        user_id = require_viewer(info.context, str(self.id))
        profile_id = profile_of(info.context.viewer)
        served = await info.context.serving.recommend(
            user_id,
            clamp_first(first),
            audience(info, context.region if context else None),
            _situation(context),
            history=await info.context.loaders.history.load((user_id, profile_id)),
            profile_id=profile_id,
        )
        return [
            Recommendation.from_scored(s, served.experiment_id, served.variant)
            for s in served.items
        ]

    @strawberry.federation.field(
        requires_scopes=READ,
        description="The active profile's home-screen rows, each with a reason to show.",
    )
    async def rows(
        self,
        info: Info,
        items_per_row: int | None = 10,
        context: RecommendationContext | None = None,
    ) -> list[RecommendationRow] | None:
        user_id = require_viewer(info.context, str(self.id))
        profile_id = profile_of(info.context.viewer)
        rows = await info.context.rows.rows(
            user_id,
            audience(info, context.region if context else None),
            clamp_first(items_per_row, 10, 50),
            _situation(context),
            history=await info.context.loaders.history.load((user_id, profile_id)),
            profile_id=profile_id,
        )
        return [
            RecommendationRow(
                id=strawberry.ID(row.key),
                kind=RowKind(row.kind),
                title=row.title,
                reason=row.reason,
                based_on=Content(id=strawberry.ID(row.based_on)) if row.based_on else None,
                genre=row.genre,
                items=[Recommendation.from_scored(s) for s in row.items],
            )
            for row in rows
        ]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)


@strawberry.type(description="One variant's numbers; rates are per exposure, 95% Wilson interval.")
class RateInterval:
    kind: str
    count: int
    rate: float
    low: float
    high: float


@strawberry.type
class VariantResults:
    name: str
    share: float
    members: int
    exposures: int
    rates: list[RateInterval]


@strawberry.enum(description="Where an experiment is in its lifecycle.")
class ExperimentState(Enum):
    DRAFT = "draft"  # created, not served yet
    RUNNING = "running"  # served
    STOPPED = "stopped"  # no longer served; may be started again
    CONCLUDED = "concluded"  # over for good


@strawberry.type(
    description=(
        "A variant's rate of one outcome minus the control's (the first variant), with its "
        "95% interval (Newcombe's, from the two Wilson intervals)."
    )
)
class VariantComparison:
    variant: str
    control: str
    kind: str
    difference: float
    low: float
    high: float


@strawberry.type(description="An A/B experiment over recommendation blends.")
class ExperimentResults:
    id: strawberry.ID
    name: str
    active: bool = strawberry.field(description="Whether it is served (state RUNNING).")
    state: ExperimentState
    created_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None
    concluded_at: datetime | None
    winner: str | None = strawberry.field(description="The variant kept when it concluded.")
    exposures: int
    variants: list[VariantResults]
    comparisons: list[VariantComparison] = strawberry.field(
        description="Each variant after the first against the first, for every outcome."
    )


@strawberry.input
class BlendWeightsInput:
    ease: float = 1.0
    sequence: float = 1.0
    graph: float = 0.1
    content: float = 0.1
    popularity: float = 0.05


@strawberry.input
class VariantInput:
    name: str
    share: float
    weights: BlendWeightsInput | None = None


@strawberry.enum
class OutcomeKind(Enum):
    CLICK = "click"
    PLAY = "play"
    FINISH = "finish"
