"""Device presence by leases in the database, across instances of the sync subgraph.

A device is online while one of its remote-command connections holds an unexpired lease,
whichever instance holds it: an instance that dies stops renewing its leases, and the
sweeper of any other instance then takes the device offline, once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import pytest
from sqlmodel import col, select

from media_gateway.app import Platform
from media_gateway.realtime import InProcessBroker, Realtime
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc
from media_gateway.subgraphs.sync.errors import SyncError
from media_gateway.subgraphs.sync.models import DeviceConnectionRecord
from media_gateway.subgraphs.sync.presence import (
    HEARTBEAT_SECONDS,
    KIND_PRESENCE,
    LEASE_SECONDS,
    PresenceService,
)
from media_gateway.subgraphs.sync.services import SyncServices

from .conftest import Gateway, WsClient

SHORT_LEASE = 1.0  # seconds: the lease of the instances that "crash" in these tests
PAST_LEASE = SHORT_LEASE + 0.3  # long enough for such a lease to have run out

COMMANDS = "subscription($device: ID!) { remoteCommands(deviceId: $device) { id type } }"
DEVICES = "{ me { devices { id presence lastSeenAt } } }"


class Instances(Protocol):
    def __call__(
        self, lease_seconds: float = ..., heartbeat_seconds: float = ...
    ) -> SyncServices: ...


@pytest.fixture
def sync(platform: Platform) -> SyncServices:
    """The platform's own sync service (the instance that keeps running)."""
    service: SyncServices = platform.subgraphs["sync"].service
    return service


@pytest.fixture
async def instances(platform: Platform) -> AsyncIterator[Instances]:
    """Makes other sync instances on the same database, as if each were another process:
    its own engine (so its own connections) and its own broker and clock."""
    opened: list[Database] = []
    shared = platform.runtime.database

    def make(
        lease_seconds: float = LEASE_SECONDS, heartbeat_seconds: float = HEARTBEAT_SECONDS
    ) -> SyncServices:
        database = Database(shared.url, schema=shared.schema)
        opened.append(database)
        return SyncServices.create(
            database,
            Realtime(database, InProcessBroker()),
            lease_seconds=lease_seconds,
            heartbeat_seconds=heartbeat_seconds,
        )

    yield make
    for database in opened:
        await database.dispose()


async def new_device(service: SyncServices) -> tuple[str, str]:
    """A member of their own and their TV: (user id, device id)."""
    user_id = f"user-{uuid.uuid4().hex[:12]}"
    device = await service.devices.register_device(
        user_id, "Living room TV", "TV", ["remote-control"]
    )
    return user_id, device.id


async def is_online(service: SyncServices, user_id: str, device_id: str) -> bool:
    devices = await service.devices.devices([user_id])
    return next(d for d in devices if d.id == device_id).online


async def leases(service: SyncServices, device_id: str) -> list[DeviceConnectionRecord]:
    async with service.database.session() as session:
        rows = await session.exec(
            select(DeviceConnectionRecord).where(col(DeviceConnectionRecord.device_id) == device_id)
        )
        return list(rows.all())


async def presence_events(service: SyncServices, user_id: str) -> list[tuple[str, bool, datetime]]:
    """The user's presence events in the log: (device id, online, lastSeenAt), in order."""
    messages = await service.realtime.replay(user_id, (KIND_PRESENCE,), 0)
    return [
        (
            m["payload"]["deviceId"],
            m["payload"]["online"],
            datetime.fromisoformat(m["payload"]["lastSeenAt"]),
        )
        for m in messages
    ]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


# ------------------------------------------------------------------ through the gateway
async def test_a_tv_holding_remote_commands_is_online_until_its_socket_closes(
    gateway: Gateway, viewer: dict[str, Any], sync: SyncServices
) -> None:
    async def presence() -> str:
        body = await gateway.post(DEVICES, token=viewer["token"])
        assert "errors" not in body, body
        row = next(d for d in body["data"]["me"]["devices"] if d["id"] == viewer["tv"])
        return str(row["presence"])

    assert await presence() == "OFFLINE"
    tv = WsClient()
    await tv.connect(gateway.ws_url, viewer["token"])
    try:
        await tv.subscribe(COMMANDS, {"device": viewer["tv"]})

        async def online() -> bool:
            return await presence() == "ONLINE"

        await eventually(online)
        # the subscription holds one lease in the database, running LEASE_SECONDS ahead
        held = await leases(sync, viewer["tv"])
        assert len(held) == 1 and held[0].user_id == viewer["id"]
        ahead = (as_utc(held[0].expires_at) - as_utc(held[0].opened_at)).total_seconds()
        assert ahead == pytest.approx(sync.presence.lease_seconds, abs=1)
        # a sweep leaves a device with a live lease alone
        await sync.presence.sweep_presence()
        assert await presence() == "ONLINE"
    finally:
        await tv.close()

    async def offline() -> bool:
        return await presence() == "OFFLINE"

    await eventually(offline)
    assert await leases(sync, viewer["tv"]) == []
    events = await presence_events(sync, viewer["id"])
    assert [(d, online) for d, online, _ in events] == [(viewer["tv"], True), (viewer["tv"], False)]


# ------------------------------------------------------------------ across instances
async def test_a_crashed_holder_is_swept_offline_once_its_lease_ran_out(
    sync: SyncServices, instances: Instances
) -> None:
    user_id, tv = await new_device(sync)
    crashed = instances(lease_seconds=SHORT_LEASE, heartbeat_seconds=SHORT_LEASE / 3)
    await crashed.presence.device_connected(user_id, tv)
    assert await is_online(sync, user_id, tv)
    [lease] = await leases(sync, tv)
    # the holder dies here: no disconnect, no heartbeat; while its lease runs, nothing changes
    assert await sync.presence.sweep_presence() == 0
    assert await is_online(sync, user_id, tv)

    await asyncio.sleep(PAST_LEASE)
    await sync.presence.sweep_presence()
    assert not await is_online(sync, user_id, tv)
    assert await leases(sync, tv) == []  # the expired lease is gone too
    await sync.presence.sweep_presence()  # nothing left to do

    events = await presence_events(sync, user_id)
    assert [(d, online) for d, online, _ in events] == [(tv, True), (tv, False)]
    # last seen when its lease ran out, not when the sweeper happened to notice
    assert events[1][2] == as_utc(lease.expires_at)


async def test_a_device_stays_online_while_another_instance_holds_it(
    sync: SyncServices, instances: Instances
) -> None:
    user_id, tv = await new_device(sync)
    other = instances()
    here = await sync.presence.device_connected(user_id, tv)
    there = await other.presence.device_connected(user_id, tv)
    assert len(await leases(sync, tv)) == 2

    await sync.presence.device_disconnected(user_id, tv, here)
    assert await is_online(sync, user_id, tv)
    assert [lease.id for lease in await leases(sync, tv)] == [there]

    await other.presence.device_disconnected(user_id, tv, there)
    assert not await is_online(sync, user_id, tv)
    assert await leases(sync, tv) == []
    events = await presence_events(sync, user_id)
    assert [(d, online) for d, online, _ in events] == [(tv, True), (tv, False)]


async def test_two_connections_of_one_instance_count_separately(sync: SyncServices) -> None:
    user_id, tv = await new_device(sync)
    first = await sync.presence.device_connected(user_id, tv)
    second = await sync.presence.device_connected(user_id, tv)
    assert first != second
    await sync.presence.device_disconnected(user_id, tv, first)
    assert await is_online(sync, user_id, tv)
    await sync.presence.device_disconnected(user_id, tv, second)
    assert not await is_online(sync, user_id, tv)
    events = await presence_events(sync, user_id)
    assert [online for _, online, _ in events] == [True, False]


async def test_heartbeats_keep_a_lease_alive_past_its_first_term(
    sync: SyncServices, instances: Instances
) -> None:
    user_id, tv = await new_device(sync)
    holder = instances(lease_seconds=SHORT_LEASE, heartbeat_seconds=SHORT_LEASE / 3)
    await holder.presence.device_connected(user_id, tv)
    for _ in range(4):  # well past the first lease, renewed every 0.4 s
        await asyncio.sleep(0.4)
        assert await holder.presence.renew_leases() == 1
        await sync.presence.sweep_presence()
        assert await is_online(sync, user_id, tv)
    # the heartbeats stop (the holder hangs): the lease runs out and the device goes
    await asyncio.sleep(PAST_LEASE)
    await sync.presence.sweep_presence()
    assert not await is_online(sync, user_id, tv)
    events = await presence_events(sync, user_id)
    assert [online for _, online, _ in events] == [True, False]


async def test_a_holder_that_stalled_past_its_lease_takes_it_again(
    sync: SyncServices, instances: Instances
) -> None:
    user_id, tv = await new_device(sync)
    holder = instances(lease_seconds=SHORT_LEASE, heartbeat_seconds=SHORT_LEASE / 3)
    connection = await holder.presence.device_connected(user_id, tv)
    await asyncio.sleep(PAST_LEASE)
    await sync.presence.sweep_presence()
    assert not await is_online(sync, user_id, tv)
    # the holder wakes up with the subscription still open: its next heartbeat notices
    assert await holder.presence.renew_leases() == 0
    assert await is_online(sync, user_id, tv)
    assert [lease.id for lease in await leases(sync, tv)] == [connection]
    await holder.presence.device_disconnected(user_id, tv, connection)
    assert not await is_online(sync, user_id, tv)
    events = await presence_events(sync, user_id)
    assert [online for _, online, _ in events] == [True, False, True, False]


async def test_instances_sweeping_at_once_take_a_device_offline_once(
    sync: SyncServices, instances: Instances
) -> None:
    crashed = instances(lease_seconds=SHORT_LEASE, heartbeat_seconds=SHORT_LEASE / 3)
    devices = [await new_device(sync) for _ in range(3)]
    for user_id, tv in devices:
        await crashed.presence.device_connected(user_id, tv)
    sweepers = [sync, *(instances() for _ in range(3))]
    await asyncio.sleep(PAST_LEASE)

    swept = await asyncio.gather(*(s.presence.sweep_presence() for s in sweepers))
    assert sum(swept) >= len(devices)  # (other tests may have left devices of their own)
    for user_id, tv in devices:
        assert not await is_online(sync, user_id, tv)
        assert await leases(sync, tv) == []
        events = await presence_events(sync, user_id)
        assert [(d, online) for d, online, _ in events] == [(tv, True), (tv, False)]


async def test_only_the_owner_takes_a_lease(sync: SyncServices) -> None:
    user_id, tv = await new_device(sync)
    with pytest.raises(SyncError) as refused:
        await sync.presence.device_connected("someone-else", tv)
    assert refused.value.code == "NOT_FOUND"
    assert await leases(sync, tv) == []
    assert not await is_online(sync, user_id, tv)


async def test_leases_outlast_heartbeats(sync: SyncServices) -> None:
    assert 0 < HEARTBEAT_SECONDS < LEASE_SECONDS
    assert (sync.presence.lease_seconds, sync.presence.heartbeat_seconds) == (
        LEASE_SECONDS,
        HEARTBEAT_SECONDS,
    )
    with pytest.raises(ValueError):
        PresenceService(sync.database, sync.realtime, lease_seconds=1.0, heartbeat_seconds=1.0)


async def test_an_instance_shutting_down_gives_up_its_leases_at_once(
    sync: SyncServices, instances: Instances
) -> None:
    user_id, tv = await new_device(sync)
    phone_owner, phone = await new_device(sync)
    leaving, staying = instances(), instances()
    await leaving.presence.device_connected(user_id, tv)
    await leaving.presence.device_connected(phone_owner, phone)
    await staying.presence.device_connected(phone_owner, phone)

    assert await leaving.presence.release_leases() == 2
    assert not await is_online(sync, user_id, tv)  # at once, not when the lease runs out
    assert await leases(sync, tv) == []
    assert await is_online(sync, phone_owner, phone)  # still held by the other instance
    assert await leaving.presence.release_leases() == 0
