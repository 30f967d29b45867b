"""Catalog types: the ``Content`` entity interface (owned here) and its implementations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TypedDict

import strawberry

from media_gateway.dataloaders.catalog import CatalogLoaders
from media_gateway.platform import ratings
from media_gateway.schema.common import PageInfo
from media_gateway.schema.context import RequestContext
from media_gateway.subgraphs.catalog import values
from media_gateway.subgraphs.catalog.editing import CatalogEditor
from media_gateway.subgraphs.catalog.search.analytics import SearchAnalytics
from media_gateway.subgraphs.catalog.search.index import SearchIndex
from media_gateway.subgraphs.catalog.search.synonyms import QueryRules
from media_gateway.subgraphs.catalog.titles import TitleService


@dataclass
class CatalogContext(RequestContext):
    """The catalog subgraph's per-request context."""

    titles: TitleService
    search: SearchIndex
    loaders: CatalogLoaders
    editor: CatalogEditor  # editors' changes (catalog:write)
    search_analytics: SearchAnalytics  # searches and the plays they led to
    query_rules: QueryRules  # editors' synonyms and rewrites

    @property
    def max_content_rating(self) -> str | None:
        """The active profile's maximum content rating (parental controls), if any."""
        viewer = self.viewer
        if viewer is None:
            return None
        value = getattr(viewer, "max_content_rating", None)
        if value is None and viewer.raw:
            value = viewer.raw.get("max_content_rating")
        return str(value) if value else None

    def may_see(self, content_rating: str | None) -> bool:
        return ratings.allowed(content_rating, self.max_content_rating)


Info = strawberry.Info[CatalogContext, None]


@strawberry.enum(description="How a platform offers a title.")
class OfferType(Enum):
    SUBSCRIPTION = "subscription"
    FREE = "free"
    RENT = "rent"
    BUY = "buy"


@strawberry.type(
    description=(
        "Where a title can be watched. Offers of the built-in demo catalog are demo data "
        "(isDemoData: true): illustrative platforms and prices, deep links to each "
        "platform's search."
    )
)
class Availability:
    platform: str
    region: str
    offer_type: OfferType
    price: float | None
    currency: str | None
    quality: str = strawberry.field(description="Video quality: SD, HD or UHD.")
    deep_link: str = strawberry.field(description="Opens the title in the platform's app.")
    is_demo_data: bool
    leaves_at: datetime | None = strawberry.field(
        description="When the offer ends, when the platform announced it."
    )

    @classmethod
    def from_record(cls, record: values.Offer) -> Availability:
        leaves_at = record.leaves_at
        if leaves_at is not None and leaves_at.tzinfo is None:
            leaves_at = leaves_at.replace(tzinfo=UTC)
        return cls(
            platform=record.platform,
            region=record.region,
            offer_type=OfferType(record.offer_type),
            price=float(record.price) if record.price is not None else None,
            currency=record.currency,
            quality=record.quality,
            deep_link=record.deep_link,
            is_demo_data=record.is_demo_data,
            leaves_at=leaves_at,
        )


@strawberry.type(description="A title's identifiers in other catalogs.")
class ExternalIds:
    imdb: str | None
    tmdb: str | None
    eidr: str | None


@strawberry.type(description="A person's part in a title.")
class Credit:
    role: str = strawberry.field(description="cast or crew")
    job: str | None = strawberry.field(description="For crew: Director, Creator, Writer, ...")
    character: str | None
    _person_id: strawberry.Private[str]
    _content_id: strawberry.Private[str]

    @strawberry.field
    async def person(self, info: Info) -> Person | None:
        record = await info.context.loaders.people.load(self._person_id)
        return Person.from_record(record) if record else None

    @strawberry.field
    async def content(self, info: Info) -> Content | None:
        record = await info.context.loaders.contents.load(self._content_id)
        if record is None or not info.context.may_see(record.content_rating):
            return None
        return content_from_record(record)

    @classmethod
    def from_record(cls, record: values.Credit) -> Credit:
        return cls(
            role=record.role,
            job=record.job,
            character=record.character,
            _person_id=record.person_id,
            _content_id=record.content_id,
        )


@strawberry.federation.type(keys=["id"], description="Someone in a title's cast or crew.")
class Person:
    id: strawberry.ID
    name: str

    @strawberry.field(description="The titles this person worked on.")
    async def credits(self, info: Info) -> list[Credit]:
        rows = await info.context.loaders.person_credits.load(str(self.id))
        return [Credit.from_record(r) for r in rows]

    @classmethod
    def from_record(cls, record: values.Person) -> Person:
        return cls(id=strawberry.ID(record.id), name=record.name)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Person | None:
        record = await info.context.loaders.people.load(str(id))
        return cls.from_record(record) if record else None


async def _resolve_content(info: Info, id: strawberry.ID) -> Content | None:
    record = await info.context.loaders.contents.load(str(id))
    if record is None or not info.context.may_see(record.content_rating):
        return None
    return content_from_record(record)


@strawberry.federation.interface(
    keys=["id"], description="A title: movie, series, season or episode."
)
class Content:
    id: strawberry.ID
    title: str
    year: int | None
    runtime: int | None = strawberry.field(
        description="Running time in minutes (per episode for series)."
    )
    synopsis: str | None
    content_rating: str | None
    popularity: float
    original_title: str | None = strawberry.field(
        description="The title in its original language, when it differs."
    )
    quality_score: float | None = strawberry.field(description="0 to 10, higher is better.")
    external_ids: ExternalIds
    retired_at: datetime | None = strawberry.field(
        description="When an editor retired the title: out of browsing and search since."
    )

    @strawberry.field(description="Actors, in billing order.")
    async def cast(self, info: Info) -> list[Credit]:
        rows = await info.context.loaders.credits.load(str(self.id))
        return [Credit.from_record(r) for r in rows if r.role == "cast"]

    @strawberry.field(description="Directors, creators, writers.")
    async def crew(self, info: Info) -> list[Credit]:
        rows = await info.context.loaders.credits.load(str(self.id))
        return [Credit.from_record(r) for r in rows if r.role == "crew"]

    @strawberry.field
    async def genres(self, info: Info) -> list[str]:
        return [row.genre for row in await info.context.loaders.genres.load(str(self.id))]

    @strawberry.field(description="Offers for this title, optionally in one region (ISO 3166).")
    async def availability(
        self, info: Info, region: str | None = None
    ) -> list[Availability] | None:
        rows = await info.context.loaders.availability.load(str(self.id))
        wanted = region.upper() if region else None
        return [Availability.from_record(r) for r in rows if wanted is None or r.region == wanted]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Content | None:
        return await _resolve_content(info, id)


@strawberry.federation.type(keys=["id"])
class Movie(Content):
    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Content | None:
        return await _resolve_content(info, id)


@strawberry.federation.type(keys=["id"])
class Series(Content):
    @strawberry.field
    async def seasons(self, info: Info) -> list[Season]:
        children = await info.context.loaders.children.load(str(self.id))
        return [Season.from_record(r) for r in children if r.kind == "season"]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Content | None:
        return await _resolve_content(info, id)


@strawberry.federation.type(keys=["id"])
class Season(Content):
    season_number: int
    _series_id: strawberry.Private[str | None] = None

    @strawberry.field
    async def series(self, info: Info) -> Series | None:
        if self._series_id is None:
            return None
        record = await info.context.loaders.contents.load(self._series_id)
        return Series(**_fields(record)) if record else None  # same rating as the season

    @strawberry.field
    async def episodes(self, info: Info) -> list[Episode]:
        children = await info.context.loaders.children.load(str(self.id))
        return [Episode.from_record(r) for r in children if r.kind == "episode"]

    @classmethod
    def from_record(cls, record: values.Title) -> Season:
        return cls(
            **_fields(record), season_number=record.season_number or 0, _series_id=record.parent_id
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Content | None:
        return await _resolve_content(info, id)


@strawberry.federation.type(keys=["id"])
class Episode(Content):
    season_number: int
    episode_number: int
    _season_id: strawberry.Private[str | None] = None

    @strawberry.field
    async def season(self, info: Info) -> Season | None:
        if self._season_id is None:
            return None
        record = await info.context.loaders.contents.load(self._season_id)
        return Season.from_record(record) if record else None

    @classmethod
    def from_record(cls, record: values.Title) -> Episode:
        return cls(
            **_fields(record),
            season_number=record.season_number or 0,
            episode_number=record.episode_number or 0,
            _season_id=record.parent_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Content | None:
        return await _resolve_content(info, id)


class _ContentFields(TypedDict):
    id: strawberry.ID
    title: str
    year: int | None
    runtime: int | None
    synopsis: str | None
    content_rating: str | None
    popularity: float
    original_title: str | None
    quality_score: float | None
    external_ids: ExternalIds
    retired_at: datetime | None


def _fields(record: values.Title) -> _ContentFields:
    return {
        "id": strawberry.ID(record.id),
        "title": record.title,
        "year": record.year,
        "runtime": record.runtime_minutes,
        "synopsis": record.synopsis,
        "content_rating": record.content_rating,
        "popularity": record.popularity,
        "original_title": record.original_title,
        "quality_score": record.quality_score,
        "external_ids": ExternalIds(imdb=record.imdb_id, tmdb=record.tmdb_id, eidr=record.eidr_id),
        "retired_at": record.retired_at.replace(tzinfo=record.retired_at.tzinfo or UTC)
        if record.retired_at is not None
        else None,
    }


def content_from_record(record: values.Title) -> Content:
    if record.kind == "season":
        return Season.from_record(record)
    if record.kind == "episode":
        return Episode.from_record(record)
    if record.kind == "series":
        return Series(**_fields(record))
    return Movie(**_fields(record))


@strawberry.type
class ContentEdge:
    cursor: str
    node: Content


@strawberry.type(description="A genre and how many titles (movies and series) carry it.")
class Genre:
    name: str
    title_count: int


@strawberry.enum(description="What a title is.")
class ContentKind(Enum):
    MOVIE = "movie"
    SERIES = "series"


@strawberry.input(description="Search filters; values of one filter are alternatives (OR).")
class SearchFilters:
    genres: list[str] | None = None
    platforms: list[str] | None = None
    offer_types: list[OfferType] | None = None
    regions: list[str] | None = strawberry.field(
        default=None,
        description="ISO 3166 codes; with platforms or offer types, one offer must match them all.",
    )
    kinds: list[ContentKind] | None = None
    year_from: int | None = None
    year_to: int | None = None
    min_rating: float | None = strawberry.field(default=None, description="Quality score 0-10.")
    max_rating: float | None = None
    min_runtime: int | None = strawberry.field(default=None, description="Minutes.")
    max_runtime: int | None = None
    content_ratings: list[str] | None = strawberry.field(
        default=None, description='Exact levels, e.g. ["PG", "TV-PG"].'
    )
    max_content_rating: str | None = strawberry.field(
        default=None, description="At most this level on G < PG < PG-13 < R < NC-17."
    )


@strawberry.type(description="One value of a facet and how many matching titles have it.")
class FacetValue:
    value: str
    count: int
    selected: bool


@strawberry.type(
    description=(
        "Counts over every title matching the query; each facet applies all active filters "
        "except its own."
    )
)
class SearchFacets:
    genres: list[FacetValue]
    platforms: list[FacetValue]
    offer_types: list[FacetValue]
    release_years: list[FacetValue] = strawberry.field(description="By decade, e.g. 1990s.")
    ratings: list[FacetValue] = strawberry.field(description="Quality-score buckets.")


@strawberry.type(description="What a natural-language query was understood as.")
class QueryInterpretation:
    text: str = strawberry.field(description="The free text left after taking out filters.")
    genres: list[str]
    platforms: list[str]
    kinds: list[ContentKind]
    offer_types: list[OfferType]
    year_from: int | None
    year_to: int | None
    max_runtime: int | None
    min_rating: float | None
    max_content_rating: str | None


@strawberry.enum(description="A constraint a request implied that was dropped to find titles.")
class RelaxedConstraint(Enum):
    PLATFORMS = "platforms"
    OFFER_TYPES = "offerTypes"
    YEARS = "years"
    MAX_RUNTIME = "maxRuntime"
    MIN_RATING = "minRating"
    GENRES = "genres"
    KINDS = "kinds"


@strawberry.type
class SearchResult:
    edges: list[ContentEdge]
    page_info: PageInfo
    total_count: int
    corrected_query: str | None = strawberry.field(
        description="The query as searched when spelling was corrected."
    )
    interpretation: QueryInterpretation | None
    facets: SearchFacets
    relaxed: list[RelaxedConstraint] = strawberry.field(
        default_factory=list,
        description=(
            "What the interpretation asked for but was dropped, in this order, because "
            "together it matched no title (empty when nothing was relaxed). Filters passed "
            "explicitly and content-rating limits are never relaxed."
        ),
    )
    search_id: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "This search, for search analytics: pass it to startPlayback when the viewer "
            "plays one of its results. Null for a blank query and for pages after the first."
        ),
    )

    @strawberry.field
    def nodes(self) -> list[Content]:
        return [edge.node for edge in self.edges]


@strawberry.enum
class SuggestionKind(Enum):
    TITLE = "title"
    PERSON = "person"
    GENRE = "genre"


@strawberry.type(description="An autocomplete suggestion.")
class Suggestion:
    kind: SuggestionKind
    id: strawberry.ID = strawberry.field(description="Content id, person id or genre name.")
    text: str
    score: float

    @strawberry.field(description="The title, for title suggestions.")
    async def content(self, info: Info) -> Content | None:
        if self.kind is not SuggestionKind.TITLE:
            return None
        return await _resolve_content(info, self.id)


@strawberry.type(description="An offer ending soon.")
class ExpiringOffer:
    content: Content
    offer: Availability
    leaves_at: datetime


CONTENT_TYPES = [Movie, Series, Season, Episode, Person]
