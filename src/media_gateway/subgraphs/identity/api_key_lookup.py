"""API keys as the rest of the platform sees them: found by the digest of their secret.

Caller identification (``media_gateway.auth.callers``) is handed ``ApiKeys(database).find``
by the assembly, so every subgraph accepts API keys without reading identity's tables.
"""

from __future__ import annotations

import sqlalchemy as sa

from media_gateway.auth.callers import StoredApiKey
from media_gateway.storage.database import Database
from media_gateway.subgraphs.identity.models import ApiKeyRecord

_KEYS: sa.Table = ApiKeyRecord.__table__  # type: ignore[attr-defined]


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
