"""Short-lived codes (device grants, authorization codes, email tokens): Redis with expiry
when ``REDIS_URL`` is set, the ``identity_short_codes`` table otherwise.

Keys are digests of the codes, never the codes themselves. Values are small JSON objects.
``take`` and ``put_once`` are atomic on both backends, so a code is redeemed at most once.
While Redis cannot be reached the table serves instead (with a warning in the log; Redis is
tried again every few seconds), so an outage costs the codes issued before it, never every
sign-in.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from media_gateway.platform.redis_link import RedisLink, redis_errors
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.identity.models import ShortCodeRecord


def code_key(kind: str, code: str) -> str:
    """The storage key of a code: its kind and SHA-256 digest."""
    return f"{kind}:{hashlib.sha256(code.encode()).hexdigest()}"


class CodeStore:
    def __init__(self, database: Database, redis_url: str | None, prefix: str = "mg:identity"):
        self.database = database
        self.redis_url = redis_url
        self.prefix = prefix
        self._link = RedisLink(
            redis_url, "short-lived codes are kept in the database until it answers again"
        )

    @property
    def uses_redis(self) -> bool:
        """Redis is configured and not known to be down (it is tried again after a pause)."""
        return self._link.usable

    def _rkey(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    async def aclose(self) -> None:
        await self._link.aclose()

    async def put(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None:
        """Store (or replace) a value that disappears after ``ttl_seconds``."""
        text = json.dumps(value)
        if self.uses_redis:
            try:
                await self._link.client().set(
                    self._rkey(key), text, px=max(1, int(ttl_seconds * 1000))
                )
                return
            except redis_errors() as exc:
                self._link.failed(exc)
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        async with self.database.transaction() as session:
            record = await session.get(ShortCodeRecord, key)
            if record is None:
                session.add(ShortCodeRecord(key=key, value=text, expires_at=expires))
            else:
                record.value = text
                record.expires_at = expires
                session.add(record)

    async def put_once(self, key: str, value: dict[str, Any], ttl_seconds: float) -> bool:
        """Store a value unless the key already holds one; ``False`` when it did."""
        text = json.dumps(value)
        if self.uses_redis:
            try:
                done = await self._link.client().set(
                    self._rkey(key), text, px=max(1, int(ttl_seconds * 1000)), nx=True
                )
                return bool(done)
            except redis_errors() as exc:
                self._link.failed(exc)
        now = utcnow()
        try:
            async with self.database.transaction() as session:
                await session.exec(  # an expired leftover does not count
                    delete(ShortCodeRecord).where(
                        col(ShortCodeRecord.key) == key, col(ShortCodeRecord.expires_at) <= now
                    )
                )
                session.add(
                    ShortCodeRecord(
                        key=key, value=text, expires_at=now + timedelta(seconds=ttl_seconds)
                    )
                )
        except IntegrityError:
            return False
        return True

    async def get(self, key: str) -> dict[str, Any] | None:
        if self.uses_redis:
            try:
                text = await self._link.client().get(self._rkey(key))
                if text:
                    found: dict[str, Any] = json.loads(text)
                    return found
                if self._link.down_since is None:
                    return None
            except redis_errors() as exc:
                self._link.failed(exc)
        async with self.database.session() as session:
            record = await session.get(ShortCodeRecord, key)
        if record is None or as_utc(record.expires_at) <= utcnow():
            return None
        value: dict[str, Any] = json.loads(record.value)
        return value

    async def take(self, key: str) -> dict[str, Any] | None:
        """Remove and return a value, atomically: of concurrent callers, one gets it."""
        if self.uses_redis:
            try:
                text = await self._link.client().getdel(self._rkey(key))
                if text:
                    taken: dict[str, Any] = json.loads(text)
                    return taken
                if self._link.down_since is None:
                    return None
            except redis_errors() as exc:
                self._link.failed(exc)
        async with self.database.transaction() as session:
            result = await session.exec(select(ShortCodeRecord).where(ShortCodeRecord.key == key))
            record = result.first()
            if record is None:
                return None
            value_text, expires_at = record.value, record.expires_at
            deleted = await session.exec(
                delete(ShortCodeRecord).where(
                    col(ShortCodeRecord.key) == key, col(ShortCodeRecord.value) == value_text
                )
            )
            if deleted.rowcount != 1 or as_utc(expires_at) <= utcnow():
                return None
        value: dict[str, Any] = json.loads(value_text)
        return value

    async def delete(self, key: str) -> None:
        if self.uses_redis:
            try:
                await self._link.client().delete(self._rkey(key))
            except redis_errors() as exc:
                self._link.failed(exc)
        async with self.database.transaction() as session:
            await session.exec(delete(ShortCodeRecord).where(col(ShortCodeRecord.key) == key))
