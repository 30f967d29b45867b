"""A deleted account's rows go on identity's ``account.deleted`` event: from the in-process
bus, and from Kafka for a service running alone (a real broker when
``TEST_KAFKA_BOOTSTRAP_SERVERS`` is set)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

import media_gateway.app  # noqa: F401  (registers the models the migrations cover)
from media_gateway.platform.events import Event, EventBus
from media_gateway.storage.database import Database
from media_gateway.storage.erasure import (
    ACCOUNT_DELETED,
    ACCOUNTS_TOPIC,
    AccountEventConsumer,
    AccountEvents,
)
from media_gateway.storage.outbox import KafkaPublisher
from media_gateway.subgraphs.sync.models import DeviceRecord

from .backends import make_settings

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    settings = make_settings(tmp_path, "sqlite")
    database = Database(settings.database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


async def _devices(database: Database, *users: str) -> None:
    async with database.transaction() as session:
        for user in users:
            session.add(DeviceRecord(user_id=user, name="TV", kind="TV"))


async def _owners(database: Database) -> set[str]:
    async with database.session() as session:
        return set((await session.exec(select(DeviceRecord.user_id))).all())


async def test_the_bus_event_erases_only_the_deleted_accounts_rows(database: Database) -> None:
    bus = EventBus()
    AccountEvents(
        database,
        [DeviceRecord],
        "sync",
        subscribe=bus.subscribe,
        kafka_bootstrap_servers=None,
        alone=False,
    )
    await _devices(database, "gone", "stays")
    await bus.publish(Event(ACCOUNTS_TOPIC, "gone", {"type": "account.updated", "userId": "gone"}))
    assert await _owners(database) == {"gone", "stays"}
    for _ in range(2):  # a repeated event changes nothing
        await bus.publish(
            Event(ACCOUNTS_TOPIC, "gone", {"type": ACCOUNT_DELETED, "userId": "gone"})
        )
        assert await _owners(database) == {"stays"}


@pytest.mark.kafka
@pytest.mark.skipif(not KAFKA, reason="TEST_KAFKA_BOOTSTRAP_SERVERS is not set")
async def test_a_service_running_alone_hears_deletions_from_kafka(database: Database) -> None:
    assert KAFKA
    run = uuid.uuid4().hex[:10]
    topic = f"{ACCOUNTS_TOPIC}.test-{run}"  # a topic of this test's own
    gone, stays = f"gone-{run}", f"stays-{run}"
    await _devices(database, gone, stays)
    publisher = KafkaPublisher(KAFKA)
    try:  # published before the service starts: its group reads from the beginning
        await publisher(topic, gone, {"type": ACCOUNT_DELETED, "userId": gone})
    finally:
        await publisher.close()
    events = AccountEvents(
        database,
        [DeviceRecord],
        "sync",
        subscribe=EventBus().subscribe,
        kafka_bootstrap_servers=KAFKA,
        alone=True,
    )
    assert events.consumer is not None
    events.consumer = AccountEventConsumer(
        KAFKA, "sync", events.handler, topic=topic, group_id=f"erasure-test-{run}"
    )
    await events.startup()
    try:
        for _ in range(300):
            if await _owners(database) == {stays}:
                break
            await asyncio.sleep(0.1)
    finally:
        await events.shutdown()
    assert await _owners(database) == {stays}
