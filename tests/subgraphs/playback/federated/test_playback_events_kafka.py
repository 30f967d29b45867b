"""Playback events reach Kafka through the outbox relay (topic ``playback.events``)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import uuid

import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings

from .conftest import START, TITLE, UPDATE, Gateway, new_viewer

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")


@pytest.mark.kafka
@pytest.mark.skipif(not KAFKA, reason="TEST_KAFKA_BOOTSTRAP_SERVERS is not set")
async def test_started_and_progress_events_are_published_to_kafka(settings: Settings) -> None:
    from aiokafka import AIOKafkaConsumer

    assert KAFKA
    consumer = AIOKafkaConsumer(
        "playback.events",
        bootstrap_servers=KAFKA,
        group_id=f"test-playback-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    platform = Platform.create(
        Runtime.create(dataclasses.replace(settings, kafka_bootstrap_servers=KAFKA))
    )
    await platform.startup()
    gateway = Gateway(platform)
    try:
        await gateway.start()
        viewer = await new_viewer(gateway)
        started = await gateway.post(START, {"c": TITLE, "d": viewer["phone"]}, viewer["token"])
        session = started["data"]["startPlayback"]["id"]
        await gateway.post(UPDATE, {"s": session, "p": 300}, viewer["token"])
        seen: list[dict[str, object]] = []

        async def collect() -> None:
            async for message in consumer:
                payload = json.loads(message.value)
                if payload.get("sessionId") == session:
                    assert message.key.decode() == viewer["id"]
                    seen.append(payload)
                    if len(seen) == 2:
                        return

        await asyncio.wait_for(collect(), 30)
        assert [(e["type"], e["positionSeconds"]) for e in seen] == [
            ("started", 0),
            ("progress", 300),
        ]
    finally:
        await consumer.stop()
        await gateway.stop()
        await platform.shutdown()
