"""Ending sessions: a session is a refresh-token family; ending it revokes the family and
records that its access tokens are no longer good, which every service learns at once
(``media_gateway.auth.revocation``)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from media_gateway.auth.revocation import Revocation, RevokedSessions, revoked_sessions
from media_gateway.auth.tokens import CLOCK_SKEW_SECONDS
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.identity.common import IdentityStores
from media_gateway.subgraphs.identity.models import RefreshTokenRecord


class SessionEnds:
    """The transactional steps take the caller's database session; ``announce`` the result
    once that transaction has committed."""

    def __init__(self, stores: IdentityStores) -> None:
        self.stores = stores

    @property
    def revocations(self) -> RevokedSessions:
        """What this process knows of revoked sessions (shared with every service on the
        same database)."""
        return revoked_sessions(self.stores.database, self.stores.settings.redis_url)

    @property
    def _access_ttl(self) -> int:
        return self.stores.settings.jwt_access_token_ttl_seconds

    async def end_family(
        self, session: Any, user_id: str, family_id: str, now: datetime
    ) -> list[Revocation]:
        """Revoke one refresh-token family and record its session as ended."""
        await session.exec(
            update(RefreshTokenRecord)
            .where(col(RefreshTokenRecord.family_id) == family_id)
            .values(revoked_at=now)
        )
        return await self.end_sessions(session, user_id, [family_id])

    async def end_every_session(
        self, session: Any, user_id: str, now: datetime
    ) -> list[Revocation]:
        """Revoke every refresh-token family of the account and record its sessions as
        ended."""
        await session.exec(
            update(RefreshTokenRecord)
            .where(col(RefreshTokenRecord.user_id) == user_id)
            .where(col(RefreshTokenRecord.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        return await self.end_sessions(
            session, user_id, await self.live_sessions(session, user_id=user_id)
        )

    async def end_profile_sessions(
        self, session: Any, user_id: str, profile_id: str, now: datetime
    ) -> list[Revocation]:
        """Revoke the sessions on one viewing profile (it is being removed)."""
        await session.exec(
            update(RefreshTokenRecord)
            .where(col(RefreshTokenRecord.profile_id) == profile_id)
            .values(revoked_at=now)
        )
        return await self.end_sessions(
            session,
            user_id,
            await self.live_sessions(session, user_id=user_id, profile_id=profile_id),
        )

    async def live_sessions(
        self, session: Any, *, user_id: str, profile_id: str | None = None
    ) -> list[str]:
        """The sessions (refresh-token families) that may still hold unexpired access tokens:
        an access token is issued with each refresh token, so those with a refresh token
        issued within an access token's lifetime."""
        since = utcnow() - timedelta(seconds=self._access_ttl + 2 * CLOCK_SKEW_SECONDS)
        query = (
            select(RefreshTokenRecord.family_id)
            .where(RefreshTokenRecord.user_id == user_id)
            .where(col(RefreshTokenRecord.created_at) >= since)
        )
        if profile_id is not None:
            query = query.where(RefreshTokenRecord.profile_id == profile_id)
        result = await session.exec(query.distinct())
        return [str(family) for family in result.all()]

    async def end_sessions(
        self, session: Any, user_id: str, session_ids: Iterable[str]
    ) -> list[Revocation]:
        """Record that these sessions' access tokens are no longer good (until the last of
        them would have expired)."""
        until = int(time.time()) + self._access_ttl + CLOCK_SKEW_SECONDS
        return await RevokedSessions.record(session, user_id, session_ids, until)

    async def announce(self, ended: Sequence[Revocation]) -> None:
        """After the commit: every service refuses these sessions' tokens from now on."""
        await self.revocations.announce(ended, self._access_ttl + 2 * CLOCK_SKEW_SECONDS + 60)
