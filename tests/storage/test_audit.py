"""The audit log as storage: entries exist exactly when their change committed, the table is
append-only (the database refuses changes), entries older than the retention are purged, and
every entry reaches the Kafka topic ``audit.events`` (on a real broker when
``TEST_KAFKA_BOOTSTRAP_SERVERS`` is set)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import media_gateway.app  # noqa: F401  (registers the models the migrations cover)
from media_gateway.platform.settings import Settings
from media_gateway.storage.audit import (
    AUDIT_TOPIC,
    AuditEntryRecord,
    AuditFilter,
    AuditOutboxRecord,
    purge_expired,
    read_audit,
    record_audit,
)
from media_gateway.storage.database import Database
from media_gateway.storage.outbox import KafkaPublisher, OutboxRelay
from media_gateway.storage.types import utcnow

from .backends import BACKENDS, make_settings, postgres_schema

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "postgres":
        with postgres_schema("mg_audit") as schema:
            yield make_settings(tmp_path, "postgres", schema)
    else:
        yield make_settings(tmp_path, "sqlite")


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings.database_url, schema=settings.database_schema)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


async def _entry(database: Database, action: str, target: str, **kw: Any) -> None:
    async with database.transaction() as session:
        await record_audit(
            session,
            actor_id="operator-1",
            action=action,
            target_type="account",
            target_id=target,
            **kw,
        )


async def test_an_entry_exists_exactly_when_its_change_committed(database: Database) -> None:
    target = uuid.uuid4().hex
    await _entry(
        database, "account.lock", target, before={"lockedAt": None}, after={"lockedAt": utcnow()}
    )
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await record_audit(
                session,
                actor_id="operator-1",
                action="account.unlock",
                target_type="account",
                target_id=target,
            )
            raise RuntimeError("the change failed")
    entries = await read_audit(database, AuditFilter(target_id=target), first=10)
    assert [e.action for e in entries] == ["account.lock"]
    assert isinstance(entries[0].after["lockedAt"], str)  # times kept as ISO text
    with pytest.raises(ValueError):
        async with database.transaction() as session:
            await record_audit(
                session, actor_id=None, action="Not Dotted", target_type="x", target_id=None
            )


async def test_filters_and_cursor_pagination(database: Database) -> None:
    target = uuid.uuid4().hex
    for action in (
        "account.lock",
        "account.unlock",
        "account.role.assign",
        "api_key.create",
        "account_x.y",
    ):
        await _entry(database, action, target)
    where = AuditFilter(target_id=target, action_prefix="account.")
    first = await read_audit(database, where, first=2)
    assert [e.action for e in first[:2]] == ["account.role.assign", "account.unlock"]
    assert len(first) == 3  # one more: there is a next page
    rest = await read_audit(database, where, first=2, after_id=first[1].id)
    assert [e.action for e in rest] == ["account.lock"]  # "account_x.y" is not "account."
    later = await read_audit(database, AuditFilter(target_id=target, since=utcnow()), first=10)
    assert later == []


async def test_the_log_is_append_only_and_purged_after_the_retention(
    database: Database,
) -> None:
    target = uuid.uuid4().hex
    await _entry(database, "account.lock", target)
    with pytest.raises(DBAPIError):
        async with database.transaction() as session:
            await session.exec(text("UPDATE audit_log SET action = 'account.unlock'"))  # type: ignore[call-overload]
    if not database.is_sqlite:
        with pytest.raises(DBAPIError):
            async with database.transaction() as session:
                await session.exec(text("DELETE FROM audit_log"))  # type: ignore[call-overload]
    # an entry older than the retention (written as the purge would find it a year on)
    async with database.transaction() as session:
        session.add(
            AuditEntryRecord(
                occurred_at=utcnow() - timedelta(days=400),
                action="auth.sign_in",
                target_type="session",
                target_id=target,
            )
        )
    assert await purge_expired(database, timedelta(days=365)) == 1
    kept = await read_audit(database, AuditFilter(target_id=target), first=10)
    assert [e.action for e in kept] == ["account.lock"]


@pytest.mark.kafka
@pytest.mark.skipif(not KAFKA, reason="TEST_KAFKA_BOOTSTRAP_SERVERS is not set")
async def test_every_entry_is_exported_to_kafka(database: Database) -> None:
    from aiokafka import AIOKafkaConsumer

    assert KAFKA
    target = uuid.uuid4().hex
    for action in ("account.lock", "account.unlock"):
        await _entry(database, action, target, detail={"reason": "test"})
    publisher = KafkaPublisher(KAFKA)
    try:
        relay = OutboxRelay(database, AuditOutboxRecord, publisher)
        while await relay.relay_once():
            pass
    finally:
        await publisher.close()
    async with database.session() as session:
        waiting = (
            await session.exec(text("SELECT count(*) FROM audit_outbox WHERE published_at IS NULL"))
        ).one()  # type: ignore[call-overload]
    assert waiting[0] == 0
    consumer = AIOKafkaConsumer(
        AUDIT_TOPIC,
        bootstrap_servers=KAFKA,
        group_id=f"audit-test-{target}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[dict[str, Any]] = []
    try:
        for _ in range(30):
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                for message in messages:
                    if message.key == target.encode():
                        received.append(json.loads(message.value))
            if len(received) >= 2:
                break
    finally:
        await consumer.stop()
    assert [(e["action"], e["actorId"], e["detail"]) for e in received] == [
        ("account.lock", "operator-1", {"reason": "test"}),
        ("account.unlock", "operator-1", {"reason": "test"}),
    ]
