"""Catalog editing: create, change and retire titles (movies, series, seasons, episodes),
their availability and credits, and people.

Every edit, in one transaction: validated (``validation``), checked against the version the
editor started from (a version row per edit, unique per entity and number, so two edits from
the same version cannot both land), written with the catalog events ingestion writes (the
outbox relays them to Kafka; the search index applies them), and audited with the states
before and after. ``undo`` writes an edit's "before" back as a new version.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.audit import record_audit
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc
from media_gateway.subgraphs.catalog.editing import snapshots
from media_gateway.subgraphs.catalog.editing.snapshots import Snapshot
from media_gateway.subgraphs.catalog.editing.validation import (
    KINDS,
    PARENT_KIND,
    Checker,
    EditConflict,
    EditError,
    EditNotFound,
    FieldError,
    check_credits,
    check_offers,
    check_title_fields,
)
from media_gateway.subgraphs.catalog.models import (
    CatalogVersionRecord,
    ContentRecord,
    CreditRecord,
    PersonRecord,
)
from media_gateway.subgraphs.catalog.text import content_id, episode_id, season_id, slug

TITLE = "title"
PERSON = "person"
MAX_HISTORY = 100


@dataclass(frozen=True)
class Version:
    """One edit of a title or a person."""

    id: int
    entity_type: str  # title | person
    entity_id: str
    version: int
    action: str
    actor_id: str | None
    before: Snapshot | None
    after: Snapshot | None
    undoes_version_id: int | None
    created_at: datetime

    @property
    def changed(self) -> list[str]:
        return snapshots.changed_fields(self.before, self.after)

    @classmethod
    def from_record(cls, record: CatalogVersionRecord) -> Version:
        assert record.id is not None
        return cls(
            id=record.id,
            entity_type=record.entity_type,
            entity_id=record.entity_id,
            version=record.version,
            action=record.action,
            actor_id=record.actor_id,
            before=record.before,
            after=record.after,
            undoes_version_id=record.undoes_version_id,
            created_at=as_utc(record.created_at),
        )


@dataclass(frozen=True)
class History:
    entity_type: str
    entity_id: str
    current_version: int
    versions: list[Version]  # newest first


OnChange = Callable[[], Awaitable[Any]]


class CatalogEditor:
    def __init__(self, database: Database, on_change: OnChange | None = None) -> None:
        self.database = database
        self.on_change = on_change  # after each edit is committed (the search index)

    # -- titles ----------------------------------------------------------------------------

    async def create_title(self, actor_id: str, kind: str, fields: dict[str, Any]) -> Version:
        """A new movie, series, season (``parent_id``: its series) or episode (its season)."""
        check = Checker()
        if kind not in KINDS:
            check.fail("kind", f"must be one of {', '.join(KINDS)}.")
        parent_id = fields.pop("parent_id", None)
        clean = check_title_fields(check, fields, creating=True)
        check.done()
        async with self.database.session() as session:
            parent = await self._parent(session, kind, parent_id, clean)
        identifier = self._new_id(kind, clean, parent)
        after: Snapshot = {name: None for name in snapshots.TITLE_FIELDS}
        after.update(kind=kind, genres=[], offers=[], credits=[], retired=False)
        after.update(clean)
        if parent is not None:
            after["parent_id"] = parent.id
            if kind == "episode":
                after["season_number"] = parent.season_number
        else:
            after["season_number"] = after["episode_number"] = None

        async def change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot]:
            if await session.get(ContentRecord, identifier) is not None:
                raise EditError([FieldError("title", f"the catalog already holds {identifier!r}.")])
            return None, after

        return await self._edit_title(actor_id, identifier, None, "catalog.title.create", change)

    async def update_title(
        self, actor_id: str, title_id: str, expected_version: int, fields: dict[str, Any]
    ) -> Version:
        """Change some of a title's fields and genres (the others stay as they are)."""
        check = Checker()
        clean = check_title_fields(check, fields, creating=False)
        check.done()

        async def change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot]:
            before = await self._title(session, title_id)
            if before["kind"] not in ("season", "episode"):
                wrong = [n for n in ("season_number", "episode_number") if n in clean]
                if wrong:
                    raise EditError([FieldError(_label(wrong[0]), f"a {before['kind']} has none.")])
            return before, {**before, **clean}

        return await self._edit_title(
            actor_id, title_id, expected_version, "catalog.title.update", change
        )

    async def retire_title(self, actor_id: str, title_id: str, expected_version: int) -> Version:
        """Take a title out of browsing and search; it stays resolvable by id."""

        async def change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot]:
            before = await self._title(session, title_id)
            if before["retired"]:
                raise EditError([FieldError("id", "the title is already retired.")])
            return before, {**before, "retired": True}

        return await self._edit_title(
            actor_id, title_id, expected_version, "catalog.title.retire", change
        )

    async def set_availability(
        self,
        actor_id: str,
        title_id: str,
        expected_version: int,
        offers: Sequence[dict[str, Any]],
    ) -> Version:
        """Replace a title's offers (per platform, region and offer type)."""
        clean = check_offers(list(offers))

        async def change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot]:
            before = await self._title(session, title_id)
            kept = {snapshots.offer_key(o): o for o in before["offers"]}
            # an offer stated exactly as it stands keeps its provenance (demo data, feed)
            merged = [
                kept[key]
                if (key := snapshots.offer_key(o)) in kept and _same_offer(kept[key], o)
                else o
                for o in clean
            ]
            return before, {**before, "offers": sorted(merged, key=snapshots.offer_key)}

        return await self._edit_title(
            actor_id, title_id, expected_version, "catalog.title.availability", change
        )

    async def set_credits(
        self,
        actor_id: str,
        title_id: str,
        expected_version: int,
        credits: Sequence[dict[str, Any]],
    ) -> Version:
        """Replace a title's cast and crew, in billing order."""
        people = {str(c.get("person_id")) for c in credits}
        async with self.database.session() as session:
            known = set(
                (
                    await session.exec(
                        select(PersonRecord.id).where(col(PersonRecord.id).in_(people))
                    )
                ).all()
            )
        clean = check_credits(list(credits), known)

        async def change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot]:
            before = await self._title(session, title_id)
            return before, {**before, "credits": clean}

        return await self._edit_title(
            actor_id, title_id, expected_version, "catalog.title.credits", change
        )

    # -- people ----------------------------------------------------------------------------

    async def create_person(self, actor_id: str, name: str) -> Version:
        check = Checker()
        clean = check.text("name", name, max_length=200, required=True)
        check.done()
        assert clean is not None
        async with self.database.session() as session:
            identifier = await _free_id(session, PersonRecord, f"person:{slug(clean)}")

        async def change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot | None]:
            return None, {"name": clean}

        return await self._edit(actor_id, PERSON, identifier, None, "catalog.person.create", change)

    async def update_person(
        self, actor_id: str, person_id: str, expected_version: int, name: str
    ) -> Version:
        check = Checker()
        clean = check.text("name", name, max_length=200, required=True)
        check.done()

        async def change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot | None]:
            before = await snapshots.read_person(session, person_id)
            if before is None:
                raise EditNotFound(f"No person {person_id!r}.")
            return before, {"name": clean}

        return await self._edit(
            actor_id, PERSON, person_id, expected_version, "catalog.person.update", change
        )

    # -- versions --------------------------------------------------------------------------

    async def undo(self, actor_id: str, version_id: int) -> Version:
        """Write back the state before an edit, as a new version. Only an entity's latest
        edit can be undone (undo newer ones first); undoing a title's creation retires it,
        undoing a person's removes them while no title credits them."""
        async with self.database.session() as session:
            record = await session.get(CatalogVersionRecord, version_id)
        if record is None:
            raise EditNotFound(f"No catalog change {version_id}.")
        undone = Version.from_record(record)

        async def change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot | None]:
            current = await _current_version(session, undone.entity_type, undone.entity_id)
            if current != undone.version:
                raise EditConflict(
                    f"Version {current} of {undone.entity_id!r} is newer than the change "
                    f"undone (version {undone.version}): undo it first.",
                    current,
                )
            if undone.entity_type == TITLE:
                before = await self._title(session, undone.entity_id)
                if undone.before is None:
                    return before, {**before, "retired": True}
                return before, copy.deepcopy(undone.before)
            person = await snapshots.read_person(session, undone.entity_id)
            if undone.before is None:
                credited = (
                    await session.exec(
                        select(func.count()).where(col(CreditRecord.person_id) == undone.entity_id)
                    )
                ).one()
                if credited:
                    raise EditError(
                        [FieldError("versionId", "titles credit this person: remove them first.")]
                    )
            return person, copy.deepcopy(undone.before)

        return await self._edit(
            actor_id,
            undone.entity_type,
            undone.entity_id,
            undone.version,
            f"catalog.{undone.entity_type}.undo",
            change,
            undoes=undone.id,
        )

    async def history(self, entity_id: str, limit: int = 20) -> History | None:
        """A title's or a person's edits, newest first (None when neither exists)."""
        async with self.database.session() as session:
            if await session.get(ContentRecord, entity_id) is not None:
                entity_type = TITLE
            elif await session.get(PersonRecord, entity_id) is not None:
                entity_type = PERSON
            else:
                return None
            rows = (
                await session.exec(
                    select(CatalogVersionRecord)
                    .where(
                        col(CatalogVersionRecord.entity_type) == entity_type,
                        col(CatalogVersionRecord.entity_id) == entity_id,
                    )
                    .order_by(col(CatalogVersionRecord.version).desc())
                    .limit(min(limit, MAX_HISTORY))
                )
            ).all()
        versions = [Version.from_record(r) for r in rows]
        current = versions[0].version if versions else 0
        return History(entity_type, entity_id, current, versions)

    async def versions_by_ids(self, ids: Sequence[int]) -> list[Version]:
        async with self.database.session() as session:
            rows = (
                await session.exec(
                    select(CatalogVersionRecord).where(col(CatalogVersionRecord.id).in_(ids))
                )
            ).all()
        return [Version.from_record(r) for r in rows]

    # -- the one path every edit takes ------------------------------------------------------

    async def _edit_title(
        self,
        actor_id: str,
        title_id: str,
        expected_version: int | None,
        action: str,
        change: Callable[[AsyncSession], Awaitable[tuple[Snapshot | None, Snapshot]]],
    ) -> Version:
        async def title_change(session: AsyncSession) -> tuple[Snapshot | None, Snapshot | None]:
            return await change(session)

        return await self._edit(actor_id, TITLE, title_id, expected_version, action, title_change)

    async def _edit(
        self,
        actor_id: str,
        entity_type: str,
        entity_id: str,
        expected_version: int | None,
        action: str,
        change: Callable[[AsyncSession], Awaitable[tuple[Snapshot | None, Snapshot | None]]],
        *,
        undoes: int | None = None,
    ) -> Version:
        try:
            async with self.database.transaction() as session:
                current = await _current_version(session, entity_type, entity_id)
                if expected_version is not None and expected_version != current:
                    raise EditConflict(
                        f"{entity_id!r} is at version {current}, not {expected_version}: "
                        "someone else changed it; reload and try again.",
                        current,
                    )
                before, after = await change(session)
                if before == after:
                    raise EditError([FieldError("input", "changes nothing.")])
                version = current + 1
                if entity_type == TITLE:
                    assert after is not None
                    await snapshots.write_title(session, entity_id, before, after, version=version)
                else:
                    await snapshots.write_person(session, entity_id, after, version=version)
                record = CatalogVersionRecord(
                    entity_type=entity_type,
                    entity_id=entity_id,
                    version=version,
                    action=action,
                    actor_id=actor_id,
                    before=before,
                    after=after,
                    undoes_version_id=undoes,
                )
                session.add(record)
                await session.flush()
                assert record.id is not None
                await record_audit(
                    session,
                    actor_id=actor_id,
                    action=action,
                    target_type=f"catalog_{entity_type}",
                    target_id=entity_id,
                    before=before,
                    after=after,
                    detail={
                        "version": version,
                        "version_id": record.id,
                        "changed": snapshots.changed_fields(before, after),
                        **({"undoes_version_id": undoes} if undoes is not None else {}),
                    },
                )
                result = Version.from_record(record)
        except IntegrityError as exc:  # another edit from the same version committed first
            async with self.database.session() as session:
                current = await _current_version(session, entity_type, entity_id)
            raise EditConflict(
                f"{entity_id!r} was changed by another edit at the same time (now at version "
                f"{current}); reload and try again.",
                current,
            ) from exc
        if self.on_change is not None:
            await self.on_change()
        return result

    async def _title(self, session: AsyncSession, title_id: str) -> Snapshot:
        state = await snapshots.read_title(session, title_id)
        if state is None:
            raise EditNotFound(f"No title {title_id!r}.")
        return state

    async def _parent(
        self, session: AsyncSession, kind: str, parent_id: str | None, clean: dict[str, Any]
    ) -> ContentRecord | None:
        """The series of a new season, the season of a new episode (checked)."""
        wanted = PARENT_KIND.get(kind)
        check = Checker()
        if wanted is None:
            if parent_id is not None:
                check.fail("parentId", f"a {kind} belongs to nothing.")
            for name in ("season_number", "episode_number"):
                if clean.get(name) is not None:
                    check.fail(_label(name), f"a {kind} has none.")
            check.done()
            return None
        if parent_id is None:
            check.fail("parentId", f"a {kind} needs its {wanted}.")
            check.done()
        parent = await session.get(ContentRecord, parent_id)
        if parent is None or parent.kind != wanted:
            check.fail("parentId", f"no {wanted} {parent_id!r} in the catalog.")
        number = "season_number" if kind == "season" else "episode_number"
        if clean.get(number) is None:
            check.fail(_label(number), f"a {kind} needs its number.")
        if kind == "episode" and clean.get("season_number") is not None:
            check.fail("seasonNumber", "an episode takes its season's number.")
        check.done()
        return parent

    @staticmethod
    def _new_id(kind: str, clean: dict[str, Any], parent: ContentRecord | None) -> str:
        if kind == "season" and parent is not None:
            return season_id(parent.id, clean["season_number"])
        if kind == "episode" and parent is not None and parent.parent_id is not None:
            return episode_id(parent.parent_id, parent.season_number or 0, clean["episode_number"])
        return content_id(kind, clean["title"], clean.get("year"))


def _label(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _same_offer(kept: dict[str, Any], stated: dict[str, Any]) -> bool:
    ignore = {"is_demo_data", "source"}
    return {k: v for k, v in kept.items() if k not in ignore} == {
        k: v for k, v in stated.items() if k not in ignore
    }


async def _current_version(session: AsyncSession, entity_type: str, entity_id: str) -> int:
    last = (
        await session.exec(
            select(func.max(CatalogVersionRecord.version)).where(
                col(CatalogVersionRecord.entity_type) == entity_type,
                col(CatalogVersionRecord.entity_id) == entity_id,
            )
        )
    ).one()
    return int(last or 0)


async def _free_id(session: AsyncSession, model: Any, base: str) -> str:
    identifier, n = base[:160], 2
    while await session.get(model, identifier) is not None:
        identifier = f"{base[:150]}-{n}"
        n += 1
    return identifier
