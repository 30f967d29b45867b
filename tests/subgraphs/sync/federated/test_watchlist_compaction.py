"""The watchlist set forgets what it no longer needs, without ever changing its state:
removed adds and their tombstones go at once, operation ids and tombstones still waiting for
their add once they are older than the replay window (older operations are refused)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, func, select, update

from media_gateway.app import Platform
from media_gateway.realtime.hlc import Timestamp
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.sync.models import (
    AppliedOperationRecord,
    WatchlistAddRecord,
    WatchlistTombstoneRecord,
)
from media_gateway.subgraphs.sync.replication import MAX_OPERATION_AGE, ReplicationService

from .conftest import Gateway, new_viewer
from .test_crdt import NOW_MS, SYNC_TAGS, TITLE, _add, _entries, _remove


async def _rows(platform: Platform, user_id: str) -> tuple[int, int]:
    """(adds, tombstones) the set keeps for the user."""
    async with platform.runtime.database.session() as session:
        adds = (
            await session.exec(
                select(func.count())
                .select_from(WatchlistAddRecord)
                .where(WatchlistAddRecord.user_id == user_id)
            )
        ).one()
        tombstones = (
            await session.exec(
                select(func.count())
                .select_from(WatchlistTombstoneRecord)
                .where(WatchlistTombstoneRecord.user_id == user_id)
            )
        ).one()
    return int(adds), int(tombstones)


async def _sync(gateway: Gateway, viewer: dict[str, Any], device: str, *ops: Any) -> Any:
    body = await gateway.post(
        SYNC_TAGS, {"device": viewer[device], "ops": list(ops)}, viewer["token"]
    )
    assert "errors" not in body, body
    return body["data"]["syncOperations"]


async def test_a_removed_add_is_forgotten_and_replays_change_nothing(
    gateway: Gateway, platform: Platform
) -> None:
    viewer = await new_viewer(gateway)
    add, remove = _add("phone-add", 0, "phone"), _remove("tv-remove", 20, "tv", ["phone-add"])
    await _sync(gateway, viewer, "phone", add)
    assert await _rows(platform, viewer["id"]) == (1, 0)
    await _sync(gateway, viewer, "tv", remove)
    assert await _rows(platform, viewer["id"]) == (0, 0)
    # the same add and remove again, and another device's remove that had seen the add
    assert (await _sync(gateway, viewer, "phone", add))["duplicates"] == 1
    assert (await _sync(gateway, viewer, "tv", remove))["duplicates"] == 1
    late = _remove("tablet-remove", 30, "tablet", ["phone-add"])
    assert (await _sync(gateway, viewer, "tv", late))["applied"] == 1
    assert await _rows(platform, viewer["id"]) == (0, 0)
    assert await _entries(gateway, viewer["token"]) == {}
    # a new add of the title is not affected by any of that
    await _sync(gateway, viewer, "phone", _add("phone-add-2", 40, "phone"))
    assert await _entries(gateway, viewer["token"]) == {TITLE: ["phone-add-2"]}


async def test_a_tombstone_waits_for_its_add_then_both_go(
    gateway: Gateway, platform: Platform
) -> None:
    viewer = await new_viewer(gateway)
    await _sync(gateway, viewer, "tv", _remove("tv-remove", 20, "tv", ["phone-add"]))
    assert await _rows(platform, viewer["id"]) == (0, 1)
    await _sync(gateway, viewer, "phone", _add("phone-add", 0, "phone"))
    assert await _rows(platform, viewer["id"]) == (0, 0)
    assert await _entries(gateway, viewer["token"]) == {}


async def test_adds_before_a_remove_by_the_clock_are_forgotten(
    gateway: Gateway, platform: Platform
) -> None:
    viewer = await new_viewer(gateway)
    await _sync(gateway, viewer, "phone", _add("phone-add", 0, "phone"))
    blind = {**_remove("tv-remove", 20, "tv", []), "observedTags": None}
    await _sync(gateway, viewer, "tv", blind)
    assert await _rows(platform, viewer["id"]) == (0, 0)
    await _sync(gateway, viewer, "phone", _add("phone-add-late", 10, "phone"))  # before it
    assert await _entries(gateway, viewer["token"]) == {}
    await _sync(gateway, viewer, "phone", _add("phone-add-after", 30, "phone"))
    assert await _entries(gateway, viewer["token"]) == {TITLE: ["phone-add-after"]}


async def test_operations_older_than_the_window_are_refused(gateway: Gateway) -> None:
    viewer = await new_viewer(gateway)
    old = NOW_MS - int((MAX_OPERATION_AGE + timedelta(hours=1)).total_seconds() * 1000)
    ops = [{**_add("phone-add-old", 0, "phone"), "hlc": str(Timestamp(old, 0, "phone"))}]
    body = await gateway.post(SYNC_TAGS, {"device": viewer["phone"], "ops": ops}, viewer["token"])
    assert body["errors"][0]["extensions"]["code"] == "OPERATION_TOO_OLD", body
    assert await _entries(gateway, viewer["token"]) == {}


async def test_pruning_forgets_ids_and_waiting_tombstones_past_the_window(
    gateway: Gateway, platform: Platform
) -> None:
    viewer = await new_viewer(gateway)
    await _sync(gateway, viewer, "phone", _add("phone-add", 0, "phone"))
    # a remove of an add that never arrives (its device was lost)
    await _sync(gateway, viewer, "tv", _remove("tv-remove", 20, "tv", ["lost-add"]))
    assert await _rows(platform, viewer["id"]) == (1, 1)
    service: ReplicationService = platform.subgraphs["sync"].service.replication
    assert await service.prune_operations() == 0  # nothing is old yet
    async with platform.runtime.database.transaction() as session:
        await session.exec(
            update(AppliedOperationRecord)
            .where(col(AppliedOperationRecord.user_id) == viewer["id"])
            .values(applied_at=utcnow() - MAX_OPERATION_AGE - timedelta(days=2))
        )
    assert await service.prune_operations() == 2
    # the waiting tombstone went with its operation; the live add stays
    assert await _rows(platform, viewer["id"]) == (1, 0)
    assert await _entries(gateway, viewer["token"]) == {TITLE: ["phone-add"]}
