"""The audit log: security events and operators' actions, appended in the transaction of the
change they describe, never changed afterwards.

``record_audit`` adds an entry (who, what, to what, before and after) and, beside it, an
outbox row for the Kafka topic ``audit.events`` (see ``media_gateway.storage.outbox``), both in
the caller's transaction: an entry exists exactly when its change was committed. Actions are
dotted names (``auth.sign_in``, ``account.lock``, ``catalog.title.update``...).

The table is append-only: the product has no path that updates or deletes an entry but the
purge of entries older than the retention (``purge_expired``). On PostgreSQL a trigger refuses
every UPDATE, and every DELETE outside that purge (which marks its transaction with the
setting ``media_gateway.audit_purge``); on SQLite a trigger refuses every UPDATE.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import text
from sqlmodel import Field, SQLModel, col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, timestamp_field, utcnow

AUDIT_TOPIC = "audit.events"
ACTION_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# the PostgreSQL setting that lets the retention purge delete entries (see the migration)
PURGE_SETTING = "media_gateway.audit_purge"
DEFAULT_RETENTION = timedelta(days=365)
PURGE_INTERVAL_SECONDS = 3600.0


class AuditEntryRecord(SQLModel, table=True):
    """One audit entry; ``before`` and ``after`` are the changed object's states (as JSON)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = timestamp_field(index=True)
    actor_id: str | None = Field(default=None, max_length=64, index=True)
    action: str = Field(max_length=80, index=True)
    target_type: str = Field(max_length=40)
    target_id: str | None = Field(default=None, max_length=160, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    detail: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class AuditOutboxRecord(SQLModel, table=True):
    """Audit entries waiting for the relay to publish them to ``audit.events`` (and the
    account events written with them, see ``record_event``)."""

    __tablename__ = "audit_outbox"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=80)
    key: str = Field(max_length=160)
    payload: dict[str, Any] = Field(sa_type=sa.JSON)
    created_at: datetime = timestamp_field()
    published_at: datetime | None = timestamp_field(nullable=True, index=True)


def _json_object(value: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """``value`` as plain JSON (times and ids as strings)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"audit {name} must be a dict or None")
    loaded: dict[str, Any] = json.loads(json.dumps(value, default=str, sort_keys=True))
    return loaded


async def record_audit(
    session: AsyncSession,
    *,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry (and its ``audit.events`` outbox row) in the caller's
    transaction. ``actor_id``: the account that acted (None for the platform itself or an
    unknown caller); ``action``: a dotted name such as ``account.lock``."""
    if not ACTION_PATTERN.match(action) or len(action) > 80:
        raise ValueError(f"audit action {action!r} is not a dotted lower-case name")
    if not target_type or len(target_type) > 40:
        raise ValueError("audit target_type must be 1 to 40 characters")
    entry = AuditEntryRecord(
        occurred_at=utcnow(),
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id[:160] if target_id else None,
        before=_json_object(before, "before"),
        after=_json_object(after, "after"),
        detail=_json_object(detail, "detail"),
    )
    session.add(entry)
    await session.flush()  # the entry's id, for the event
    session.add(
        AuditOutboxRecord(
            topic=AUDIT_TOPIC, key=entry.target_id or entry.action, payload=audit_event(entry)
        )
    )


def record_event(session: AsyncSession, topic: str, key: str, payload: dict[str, Any]) -> None:
    """An event for the audit relay to publish beside the audit log's (identity's account
    events: ``identity.accounts``), in the caller's transaction."""
    session.add(
        AuditOutboxRecord(topic=topic, key=key, payload=_json_object(payload, "event") or {})
    )


async def append_audit(
    database: Database,
    *,
    actor_id: str | None,
    action: str,
    target_type: str,
    target_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """``record_audit`` in a transaction of its own, for an event that changes nothing else
    (a failed sign-in)."""
    async with database.transaction() as session:
        await record_audit(
            session,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            detail=detail,
        )


def audit_event(entry: AuditEntryRecord) -> dict[str, Any]:
    """An entry as published on ``audit.events``."""
    return {
        "id": entry.id,
        "occurredAt": as_utc(entry.occurred_at).isoformat(),
        "actorId": entry.actor_id,
        "action": entry.action,
        "targetType": entry.target_type,
        "targetId": entry.target_id,
        "before": entry.before,
        "after": entry.after,
        "detail": entry.detail,
    }


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read: all conditions given must hold."""

    actor_id: str | None = None
    action_prefix: str | None = None  # "account." or a whole action
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


async def read_audit(
    database: Database, where: AuditFilter, *, first: int, after_id: int | None = None
) -> list[AuditEntryRecord]:
    """Entries newest first, after the entry ``after_id`` (a cursor), at most ``first`` + 1
    (the extra one tells the caller there is a next page)."""
    query = select(AuditEntryRecord)
    if where.actor_id is not None:
        query = query.where(AuditEntryRecord.actor_id == where.actor_id)
    if where.action_prefix:
        escaped = where.action_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(AuditEntryRecord.action).like(escaped + "%", escape="\\"))
    if where.target_type is not None:
        query = query.where(AuditEntryRecord.target_type == where.target_type)
    if where.target_id is not None:
        query = query.where(AuditEntryRecord.target_id == where.target_id)
    if where.since is not None:
        query = query.where(col(AuditEntryRecord.occurred_at) >= where.since)
    if where.until is not None:
        query = query.where(col(AuditEntryRecord.occurred_at) < where.until)
    if after_id is not None:
        query = query.where(col(AuditEntryRecord.id) < after_id)
    query = query.order_by(col(AuditEntryRecord.id).desc()).limit(first + 1)
    async with database.session() as session:
        return list((await session.exec(query)).all())


async def purge_expired(database: Database, retention: timedelta = DEFAULT_RETENTION) -> int:
    """Delete the entries older than ``retention``; returns how many were deleted. (Their
    outbox rows are pruned once published, as every outbox's.)"""
    cutoff = utcnow() - retention
    async with database.transaction() as session:
        if not database.is_sqlite:
            await session.exec(text(f"SET LOCAL {PURGE_SETTING} = 'on'"))  # type: ignore[call-overload]
        result = await session.exec(
            delete(AuditEntryRecord).where(col(AuditEntryRecord.occurred_at) < cutoff)
        )
        return int(result.rowcount or 0)
