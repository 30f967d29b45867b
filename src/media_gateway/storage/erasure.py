"""Deleting a deleted account's data in every service.

Identity deletes an account once its grace period has passed and publishes
``account.deleted`` on the topic ``identity.accounts`` (through the audit relay: the in-process
bus and Kafka). Each service that keeps rows of the account subscribes ``account_erasure`` with
its tables that have a ``user_id`` column, and deletes them; deleting what is already gone
is harmless, so a repeated event changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

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
