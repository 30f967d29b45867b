"""Catalog editing (``catalog:write``): translate GraphQL to ``CatalogEditor`` calls."""

from __future__ import annotations

import strawberry

from media_gateway.schema.catalog_editing import (
    CatalogChange,
    CatalogHistory,
    CreateTitleInput,
    CreditInput,
    Info,
    OfferInput,
    TitleChangesInput,
    edit_failure,
    given,
)
from media_gateway.schema.common import bad_input, clamp_first
from media_gateway.schema.context import require_viewer
from media_gateway.subgraphs.catalog.editing import EditConflict, EditError, EditNotFound

# what each field needs (``@requiresScopes``): enforced here by the authorization extension
# and again by the router
CATALOG_WRITE = [["catalog:write"]]
REFUSED = (EditError, EditConflict, EditNotFound)


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=CATALOG_WRITE,
        description="The changes of a title or a person, newest first (null when unknown).",
    )
    async def catalog_history(
        self, info: Info, id: strawberry.ID, first: int | None = 20
    ) -> CatalogHistory | None:
        history = await info.context.editor.history(str(id), clamp_first(first))
        return CatalogHistory.of(history) if history is not None else None


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=CATALOG_WRITE,
        description="Add a movie, series, season or episode to the catalog.",
    )
    async def create_title(self, info: Info, input: CreateTitleInput) -> CatalogChange:
        actor = require_viewer(info.context)
        try:
            change = await info.context.editor.create_title(actor, input.kind.value, given(input))
        except REFUSED as exc:
            raise edit_failure(exc) from None
        return CatalogChange.of(change)

    @strawberry.federation.mutation(
        requires_scopes=CATALOG_WRITE,
        description="Change a title's fields; CONFLICT when it is no longer at expectedVersion.",
    )
    async def update_title(
        self, info: Info, id: strawberry.ID, expected_version: int, changes: TitleChangesInput
    ) -> CatalogChange:
        actor = require_viewer(info.context)
        try:
            change = await info.context.editor.update_title(
                actor, str(id), expected_version, given(changes)
            )
        except REFUSED as exc:
            raise edit_failure(exc) from None
        return CatalogChange.of(change)

    @strawberry.federation.mutation(
        requires_scopes=CATALOG_WRITE,
        description="Take a title out of browsing and search; it stays resolvable by id.",
    )
    async def retire_title(
        self, info: Info, id: strawberry.ID, expected_version: int
    ) -> CatalogChange:
        actor = require_viewer(info.context)
        try:
            change = await info.context.editor.retire_title(actor, str(id), expected_version)
        except REFUSED as exc:
            raise edit_failure(exc) from None
        return CatalogChange.of(change)

    @strawberry.federation.mutation(
        requires_scopes=CATALOG_WRITE,
        description=(
            "Replace a title's availability: its offers per platform, region and offer type."
        ),
    )
    async def set_title_availability(
        self, info: Info, id: strawberry.ID, expected_version: int, offers: list[OfferInput]
    ) -> CatalogChange:
        actor = require_viewer(info.context)
        stated = [{**vars(o), "offer_type": o.offer_type.value} for o in offers]
        try:
            change = await info.context.editor.set_availability(
                actor, str(id), expected_version, stated
            )
        except REFUSED as exc:
            raise edit_failure(exc) from None
        return CatalogChange.of(change)

    @strawberry.federation.mutation(
        requires_scopes=CATALOG_WRITE,
        description="Replace a title's cast and crew, in billing order.",
    )
    async def set_title_credits(
        self, info: Info, id: strawberry.ID, expected_version: int, credits: list[CreditInput]
    ) -> CatalogChange:
        actor = require_viewer(info.context)
        stated = [{**vars(c), "person_id": str(c.person_id), "role": c.role.value} for c in credits]
        try:
            change = await info.context.editor.set_credits(actor, str(id), expected_version, stated)
        except REFUSED as exc:
            raise edit_failure(exc) from None
        return CatalogChange.of(change)

    @strawberry.federation.mutation(
        requires_scopes=CATALOG_WRITE, description="Add a person (for cast and crew credits)."
    )
    async def create_person(self, info: Info, name: str) -> CatalogChange:
        actor = require_viewer(info.context)
        try:
            change = await info.context.editor.create_person(actor, name)
        except REFUSED as exc:
            raise edit_failure(exc) from None
        return CatalogChange.of(change)

    @strawberry.federation.mutation(
        requires_scopes=CATALOG_WRITE, description="Change a person's name."
    )
    async def update_person(
        self, info: Info, id: strawberry.ID, expected_version: int, name: str
    ) -> CatalogChange:
        actor = require_viewer(info.context)
        try:
            change = await info.context.editor.update_person(actor, str(id), expected_version, name)
        except REFUSED as exc:
            raise edit_failure(exc) from None
        return CatalogChange.of(change)

    @strawberry.federation.mutation(
        requires_scopes=CATALOG_WRITE,
        description=(
            "Restore the state before a change, as a new change (only an entity's latest "
            "change; undoing a title's creation retires it)."
        ),
    )
    async def undo_catalog_change(self, info: Info, version_id: strawberry.ID) -> CatalogChange:
        actor = require_viewer(info.context)
        if not str(version_id).isdigit() or len(str(version_id)) > 18:
            raise bad_input("Unknown version id.", argumentName="versionId")
        try:
            change = await info.context.editor.undo(actor, int(str(version_id)))
        except REFUSED as exc:
            raise edit_failure(exc) from None
        return CatalogChange.of(change)
