"""Deleting a deleted account's data in every service.

Identity deletes an account once its grace period has passed and publishes
``account.deleted`` on the topic ``identity.accounts`` (through the audit relay: the in-process
bus and Kafka). Each service that keeps rows of the account subscribes ``account_erasure`` with
its tables that have a ``user_id`` column, and deletes them; deleting what is already gone
is harmless, so a repeated event changes nothing. A service running as its own process (the
distributed mode) hears the event from Kafka instead: ``AccountEventConsumer`` feeds the
same handler from a consumer group of its own that starts at the topic's beginning, so that
no deletion is missed while the service was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from media_gateway.platform.events import Event, Handler
from media_gateway.storage.database import Database

log = logging.getLogger(__name__)

ACCOUNTS_TOPIC = "identity.accounts"
ACCOUNT_DELETED = "account.deleted"


async def erase_account(database: Database, tables: Sequence[type[SQLModel]], user_id: str) -> int:
    """Delete every row of ``tables`` whose ``user_id`` is the account's; returns how many."""
    deleted = 0
    async with database.transaction() as session:
        for model in tables:
            table: sa.Table = model.__table__  # type: ignore[attr-defined]
            result = await session.exec(sa.delete(table).where(table.c.user_id == user_id))
            deleted += int(result.rowcount or 0)
    return deleted


def account_erasure(database: Database, tables: Sequence[type[SQLModel]], service: str) -> Handler:
    """A handler of ``identity.accounts`` events that erases a deleted account's rows."""
    for model in tables:
        if "user_id" not in model.__table__.c:  # type: ignore[attr-defined]
            raise ValueError(f"{model.__name__} has no user_id column")

    async def handle(event: Event) -> None:
        if event.payload.get("type") != ACCOUNT_DELETED:
            return
        user_id = str(event.payload.get("userId") or "")
        if not user_id:
            return
        count = await erase_account(database, tables, user_id)
        log.info("deleted account's data erased", extra={"service": service, "rows": count})

    return handle


class AccountEventConsumer:
    """Hands the ``identity.accounts`` events of Kafka to ``handler`` (a consumer group per
    service, ``media-gateway-<service>-accounts``; committed after each message)."""

    def __init__(
        self,
        bootstrap_servers: str,
        service: str,
        handler: Handler,
        *,
        topic: str = ACCOUNTS_TOPIC,
        group_id: str | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.handler = handler
        self.group_id = group_id or f"media-gateway-{service}-accounts"
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name=f"{self.group_id}-kafka")

    async def _run(self, consumer: Any) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=50)
            failed = False
            for tp, messages in batches.items():
                for message in messages:
                    try:
                        payload = json.loads(message.value or b"{}")
                        key = message.key.decode() if message.key else ""
                        await self.handler(Event(self.topic, key, payload))
                    except Exception:  # read it again after a pause (the database is back)
                        log.exception("could not handle an account event from Kafka")
                        consumer.seek(tp, message.offset)
                        failed = True
                        break
                    await consumer.commit({tp: message.offset + 1})
            if failed:
                await asyncio.sleep(5.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
            self._consumer = None


class AccountEvents:
    """Where a service hears of deleted accounts: the in-process bus always (the embedded
    mode), and Kafka too when it runs as a process of its own with ``KAFKA_BOOTSTRAP_SERVERS``
    set (``alone``). Its ``startup`` and ``shutdown`` go on the subgraph's hooks."""

    def __init__(
        self,
        database: Database,
        tables: Sequence[type[SQLModel]],
        service: str,
        *,
        subscribe: Callable[[str, Handler], None],
        kafka_bootstrap_servers: str | None,
        alone: bool,
    ) -> None:
        self.handler = account_erasure(database, tables, service)
        subscribe(ACCOUNTS_TOPIC, self.handler)
        self.consumer = (
            AccountEventConsumer(kafka_bootstrap_servers, service, self.handler)
            if kafka_bootstrap_servers and alone
            else None
        )

    async def startup(self) -> None:
        if self.consumer is not None:
            await self.consumer.start()

    async def shutdown(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
