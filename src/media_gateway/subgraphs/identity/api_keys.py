"""API keys for server-to-server clients: created with some of the delegable scopes, shown
once (only a digest is kept), listed, revoked; and found by the digest of their secret.

Caller identification (``media_gateway.auth.callers``) is handed ``ApiKeys(database).find``
by the assembly, so every subgraph accepts API keys without reading identity's tables.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from media_gateway.auth.callers import (
    API_KEY_PREFIX,
    StoredApiKey,
    api_key_digest,
    forget_api_key,
)
from media_gateway.auth.scopes import DELEGABLE_SCOPES
from media_gateway.storage.audit import record_audit
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.identity.common import IdentityError, IdentityStores
from media_gateway.subgraphs.identity.models import ApiKeyRecord

MAX_API_KEYS = 20
_KEYS: sa.Table = ApiKeyRecord.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: ApiKeyRecord) -> ApiKey:
        return cls(
            id=record.id,
            name=record.name,
            prefix=record.prefix,
            scopes=tuple(record.scopes.split()),
            created_at=as_utc(record.created_at),
            expires_at=as_utc(record.expires_at) if record.expires_at else None,
            revoked_at=as_utc(record.revoked_at) if record.revoked_at else None,
        )


def _audited(record: ApiKeyRecord) -> dict[str, object]:
    """What the audit log keeps of a key (never its digest)."""
    return {
        "userId": record.user_id,
        "name": record.name,
        "prefix": record.prefix,
        "scopes": record.scopes.split(),
        "expiresAt": record.expires_at,
        "revokedAt": record.revoked_at,
    }


class ApiKeyService:
    def __init__(self, stores: IdentityStores) -> None:
        self.stores = stores

    async def create(
        self, user_id: str, name: str, scopes: Sequence[str], expires_in_days: int | None
    ) -> tuple[ApiKey, str]:
        """A new key and its secret (shown this once)."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise IdentityError("Name the key (1 to 100 characters).", field="name")
        wanted = frozenset(scopes)
        unknown = wanted - DELEGABLE_SCOPES
        if not wanted or unknown:
            raise IdentityError(
                "Choose one or more of: " + ", ".join(sorted(DELEGABLE_SCOPES)) + ".",
                field="scopes",
            )
        if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
            raise IdentityError("Expiry must be 1 to 3650 days.", field="expiresInDays")
        active = await self.keys_of(user_id)
        if sum(1 for key in active if key.revoked_at is None) >= MAX_API_KEYS:
            raise IdentityError(f"An account has at most {MAX_API_KEYS} active keys.")
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            user_id=user_id,
            name=name,
            key_hash=api_key_digest(secret),
            prefix=secret[:12],
            scopes=" ".join(sorted(wanted)),
            expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        async with self.stores.database.transaction() as session:
            session.add(record)
            await record_audit(
                session,
                actor_id=user_id,
                action="api_key.create",
                target_type="api_key",
                target_id=record.id,
                after=_audited(record),
            )
        return ApiKey.of(record), secret

    async def keys_of(self, user_id: str) -> list[ApiKey]:
        """The account's keys, newest first (revoked ones included)."""
        async with self.stores.database.session() as session:
            result = await session.exec(
                select(ApiKeyRecord)
                .where(ApiKeyRecord.user_id == user_id)
                .order_by(col(ApiKeyRecord.created_at).desc())
            )
            return [ApiKey.of(record) for record in result.all()]

    async def revoke(self, user_id: str, key_id: str) -> bool:
        async with self.stores.database.transaction() as session:
            record = await session.get(ApiKeyRecord, key_id)
            if record is None or record.user_id != user_id:
                return False
            if record.revoked_at is None:
                before = _audited(record)
                record.revoked_at = utcnow()
                session.add(record)
                await record_audit(
                    session,
                    actor_id=user_id,
                    action="api_key.revoke",
                    target_type="api_key",
                    target_id=record.id,
                    before=before,
                    after=_audited(record),
                )
            digest = record.key_hash
        forget_api_key(digest)
        return True


class ApiKeys:
    """Looks up API keys for caller identification."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def find(self, digest: str) -> StoredApiKey | None:
        """The key whose secret has this SHA-256 digest (``api_key_digest``), or None."""
        query = sa.select(
            _KEYS.c.id,
            _KEYS.c.user_id,
            _KEYS.c.scopes,
            _KEYS.c.created_at,
            _KEYS.c.expires_at,
            _KEYS.c.revoked_at,
        ).where(_KEYS.c.key_hash == digest)
        async with self.database.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return StoredApiKey(
            id=str(row.id),
            user_id=str(row.user_id),
            scopes=str(row.scopes or ""),
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )
