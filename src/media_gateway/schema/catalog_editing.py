"""Catalog editing: the inputs editors send and the changes (versions) they get back
(``catalog:write``)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from media_gateway.schema.catalog import CatalogContext, Content, OfferType, Person
from media_gateway.schema.catalog import content_from_record as content
from media_gateway.schema.common import ClientError, bad_input, not_found
from media_gateway.subgraphs.catalog.editing import (
    EditConflict,
    EditError,
    EditNotFound,
    History,
    Version,
)

Info = strawberry.Info[CatalogContext, None]


@strawberry.enum(description="What a title is.")
class TitleKind(Enum):
    MOVIE = "movie"
    SERIES = "series"
    SEASON = "season"
    EPISODE = "episode"


@strawberry.enum(description="A person's part in a title.")
class CreditRole(Enum):
    CAST = "cast"
    CREW = "crew"


@strawberry.enum(description="What a catalog change changed.")
class CatalogEntityType(Enum):
    TITLE = "title"
    PERSON = "person"


@strawberry.input(description="A new title. Seasons name their series, episodes their season.")
class CreateTitleInput:
    kind: TitleKind
    title: str
    original_title: str | None = None
    year: int | None = None
    runtime: int | None = strawberry.field(default=None, description="Minutes.")
    synopsis: str | None = None
    content_rating: str | None = strawberry.field(
        default=None, description="On the one rating scale: G, PG, PG-13, R, NC-17, TV-Y … TV-MA."
    )
    genres: list[str] | None = None
    imdb_id: str | None = None
    tmdb_id: str | None = None
    eidr_id: str | None = None
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="A season's series, an episode's season."
    )
    season_number: int | None = strawberry.field(default=None, description="Seasons only.")
    episode_number: int | None = strawberry.field(default=None, description="Episodes only.")


@strawberry.input(description="Fields to change; a field left out keeps its value, null clears it.")
class TitleChangesInput:
    title: str | None = strawberry.UNSET
    original_title: str | None = strawberry.UNSET
    year: int | None = strawberry.UNSET
    runtime: int | None = strawberry.UNSET
    synopsis: str | None = strawberry.UNSET
    content_rating: str | None = strawberry.UNSET
    genres: list[str] | None = strawberry.UNSET
    imdb_id: str | None = strawberry.UNSET
    tmdb_id: str | None = strawberry.UNSET
    eidr_id: str | None = strawberry.UNSET
    season_number: int | None = strawberry.UNSET
    episode_number: int | None = strawberry.UNSET


@strawberry.input(description="Where a platform offers a title, in one region.")
class OfferInput:
    platform: str
    region: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. US, GB.")
    offer_type: OfferType
    deep_link: str = strawberry.field(description="https:// or an app link opening the title.")
    quality: str = strawberry.field(default="HD", description="SD, HD or UHD.")
    price: float | None = strawberry.field(default=None, description="Rent and buy offers only.")
    currency: str | None = strawberry.field(default=None, description="ISO 4217, e.g. USD.")
    leaves_at: datetime | None = strawberry.field(
        default=None, description="When the offer ends (in the future)."
    )


@strawberry.input(description="A person's credit on a title; order is billing order.")
class CreditInput:
    person_id: strawberry.ID
    role: CreditRole
    job: str | None = strawberry.field(default=None, description="Crew: Director, Writer, ...")
    character: str | None = strawberry.field(default=None, description="Cast: who they play.")


@strawberry.type(
    description=(
        "One change of the catalog (a version of a title or a person): who made it, and the "
        "state before and after. Undo it with undoCatalogChange(versionId: id)."
    )
)
class CatalogChange:
    id: strawberry.ID = strawberry.field(description="The version id.")
    entity_type: CatalogEntityType
    entity_id: strawberry.ID
    version: int = strawberry.field(
        description="The entity's version after this change: the next edit's expectedVersion."
    )
    action: str = strawberry.field(description="e.g. catalog.title.update")
    actor_id: str | None
    changed_fields: list[str]
    before: JSON | None = strawberry.field(description="null for a creation.")
    after: JSON | None
    undoes_change_id: strawberry.ID | None
    created_at: datetime

    @strawberry.field(description="The title changed (also when retired).")
    async def content(self, info: Info) -> Content | None:
        if self.entity_type is not CatalogEntityType.TITLE:
            return None
        record = await info.context.loaders.contents.load(str(self.entity_id))
        return content(record) if record is not None else None

    @strawberry.field(description="The person changed.")
    async def person(self, info: Info) -> Person | None:
        if self.entity_type is not CatalogEntityType.PERSON:
            return None
        record = await info.context.loaders.people.load(str(self.entity_id))
        return Person.from_record(record) if record is not None else None

    @classmethod
    def of(cls, version: Version) -> CatalogChange:
        return cls(
            id=strawberry.ID(str(version.id)),
            entity_type=CatalogEntityType(version.entity_type),
            entity_id=strawberry.ID(version.entity_id),
            version=version.version,
            action=version.action,
            actor_id=version.actor_id,
            changed_fields=version.changed,
            before=cast(JSON, version.before),
            after=cast(JSON, version.after),
            undoes_change_id=strawberry.ID(str(version.undoes_version_id))
            if version.undoes_version_id is not None
            else None,
            created_at=version.created_at.astimezone(UTC),
        )


@strawberry.type(description="The changes of a title or a person, newest first.")
class CatalogHistory:
    entity_type: CatalogEntityType
    entity_id: strawberry.ID
    current_version: int = strawberry.field(
        description="What the next edit passes as expectedVersion (0 before any edit)."
    )
    changes: list[CatalogChange]

    @classmethod
    def of(cls, history: History) -> CatalogHistory:
        return cls(
            entity_type=CatalogEntityType(history.entity_type),
            entity_id=strawberry.ID(history.entity_id),
            current_version=history.current_version,
            changes=[CatalogChange.of(v) for v in history.versions],
        )


def edit_failure(exc: Exception) -> ClientError:
    """A client error for a refused edit: BAD_USER_INPUT with ``fieldErrors`` for invalid
    input, CONFLICT with ``currentVersion`` for a stale version, NOT_FOUND."""
    if isinstance(exc, EditError):
        return bad_input(
            f"The change is invalid: {exc}",
            fieldErrors=[{"field": e.field, "message": e.message} for e in exc.errors],
        )
    if isinstance(exc, EditConflict):
        return ClientError(str(exc), "CONFLICT", currentVersion=exc.current_version)
    if isinstance(exc, EditNotFound):
        return not_found(str(exc))
    raise exc


def given(values: Any) -> dict[str, Any]:
    """The fields of an input that were given (null included), by their domain names."""
    renamed = {"runtime": "runtime_minutes", "parent_id": "parent_id"}
    result: dict[str, Any] = {}
    for name, value in vars(values).items():
        if value is strawberry.UNSET or name == "kind":
            continue
        result[renamed.get(name, name)] = str(value) if name == "parent_id" and value else value
    return result
