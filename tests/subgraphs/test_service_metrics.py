"""``GET /metrics`` of a subgraph service: outbox lag and Kafka consumer lag.

The outbox figures are read back from the service's real ASGI app; the consumer lag from a
real consumer group on a real broker (``TEST_KAFKA_BOOTSTRAP_SERVERS``; skipped without).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from media_gateway.app import SUBGRAPHS
from media_gateway.assembly.base import Runtime, Subgraph
from media_gateway.platform.events import Event
from media_gateway.platform.settings import Settings
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.playback.models import OutboxEventRecord

try:  # the test folders are packages; their parent may or may not be one
    from tests.storage.backends import BACKENDS, make_settings, postgres_schema
except ImportError:  # pragma: no cover
    from storage.backends import (  # type: ignore[no-redef,unused-ignore]
        BACKENDS,
        make_settings,
        postgres_schema,
    )

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "postgres":
        with postgres_schema("mg_metrics") as schema:
            settings = make_settings(tmp_path, "postgres", schema)
            yield dataclasses.replace(settings, seed_demo_data=False)
    else:
        yield dataclasses.replace(make_settings(tmp_path, "sqlite"), seed_demo_data=False)


async def scrape(subgraph: Subgraph) -> Samples:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=subgraph.asgi_app()), base_url="http://subgraph"
    ) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def test_outbox_lag_shows_waiting_events_until_the_relay_publishes_them(
    settings: Settings,
) -> None:
    runtime = Runtime.create(settings)
    playback = SUBGRAPHS["playback"](runtime)
    await runtime.database.migrate()
    try:
        samples = await scrape(playback)
        assert value(samples, "outbox_unpublished_events", outbox="playback") == 0
        assert value(samples, "outbox_oldest_unpublished_age_seconds", outbox="playback") == 0

        # written while the relay is stopped (the service has not started)
        async with runtime.database.transaction() as session:
            for minutes in (2, 1):
                session.add(
                    OutboxEventRecord(
                        topic="playback.events",
                        key="user-1",
                        payload={"type": "progress"},
                        created_at=utcnow() - timedelta(minutes=minutes),
                    )
                )
        samples = await scrape(playback)
        assert value(samples, "outbox_unpublished_events", outbox="playback") == 2
        age = value(samples, "outbox_oldest_unpublished_age_seconds", outbox="playback")
        assert age is not None and 120 <= age < 600

        relayed: list[Event] = []

        async def seen(event: Event) -> None:
            relayed.append(event)

        runtime.events.subscribe("playback.events", seen)
        await playback.startup()  # the relay starts
        try:

            async def drained() -> bool:
                samples = await scrape(playback)
                return value(samples, "outbox_unpublished_events", outbox="playback") == 0

            await eventually(drained)
            samples = await scrape(playback)
            assert value(samples, "outbox_oldest_unpublished_age_seconds", outbox="playback") == 0
            assert len(relayed) == 2
        finally:
            await playback.shutdown()
    finally:
        await runtime.close()


async def test_the_catalog_reports_its_own_outbox(tmp_path: Path) -> None:
    settings = dataclasses.replace(make_settings(tmp_path, "sqlite"), seed_demo_data=False)
    runtime = Runtime.create(settings)
    catalog = SUBGRAPHS["catalog"](runtime)
    await runtime.database.migrate()
    try:
        samples = await scrape(catalog)
        assert value(samples, "outbox_unpublished_events", outbox="catalog") == 0
        assert value(samples, "outbox_unpublished_events", outbox="playback") is None
    finally:
        await runtime.close()


@pytest.mark.kafka
@pytest.mark.skipif(not KAFKA, reason="TEST_KAFKA_BOOTSTRAP_SERVERS is not set")
async def test_consumer_lag_appears_while_events_wait_and_drains(tmp_path: Path) -> None:
    from aiokafka import AIOKafkaProducer

    from media_gateway.subgraphs.recommendations.kafka import PlaybackEventConsumer

    assert KAFKA
    suffix = uuid.uuid4().hex[:10]
    topic, group = f"test-lag-{suffix}", f"test-lag-{suffix}"
    settings = dataclasses.replace(make_settings(tmp_path, "sqlite"), seed_demo_data=False)
    runtime = Runtime.create(settings)
    recommendations = SUBGRAPHS["recommendations"](runtime)
    gate = asyncio.Event()
    handled: list[Event] = []

    async def handle(event: Event) -> None:
        await gate.wait()  # the handler is held: fetched events wait
        handled.append(event)

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    consumer = PlaybackEventConsumer(
        KAFKA,
        topic,
        handle,
        group_id=group,
        offset_reset="earliest",
        lag=runtime.metrics.consumer(group),
    )
    labels = {"group": group, "topic": topic, "partition": "0"}

    def lag_is(expected: float) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return value(await scrape(recommendations), "kafka_consumer_lag", **labels) == expected

        return check

    try:
        for n in range(5):
            await producer.send_and_wait(topic, b'{"n": %d}' % n, key=b"user-1", partition=0)
        await consumer.start()
        await eventually(lag_is(5), timeout=60)

        gate.set()
        await eventually(lag_is(0), timeout=30)
        assert len(handled) == 5

        gate.clear()  # events produced while the consumer runs
        for n in range(3):
            await producer.send_and_wait(topic, b'{"n": %d}' % n, key=b"user-1", partition=0)
        await eventually(lag_is(3), timeout=30)
        gate.set()
        await eventually(lag_is(0), timeout=30)
        assert len(handled) == 8
    finally:
        gate.set()
        await consumer.stop()
        await producer.stop()
    # a stopped consumer leaves no series behind
    assert value(await scrape(recommendations), "kafka_consumer_lag", **labels) is None
    await runtime.close()
