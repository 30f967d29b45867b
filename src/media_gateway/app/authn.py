"""The router's authenticator for the platform: the platform's callers as the router's
`Principal`s.

The router (``media_gateway.gateway.authorization``) enforces @authenticated and
@requiresScopes and knows only `Principal`s; the platform identifies callers
(``media_gateway.auth.callers``: access tokens verified against the identity keys or JWKS,
API keys found through the identity subgraph when the database is at hand, as in the
embedded mode). This module only connects the two. An access token whose session was revoked
is rejected (see `media_gateway.auth.revocation`): in the embedded mode through what the
subgraphs' process knows, for the standalone router through Redis (``REDIS_URL``) and the
database (``DATABASE_URL``) when they are configured.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from media_gateway.auth import callers
from media_gateway.auth.revocation import RevokedSessions, revoked_sessions
from media_gateway.auth.tokens import InvalidTokenError
from media_gateway.gateway.authorization import ANONYMOUS, REJECTED, Authenticator, Principal
from media_gateway.platform.settings import Settings, get_settings
from media_gateway.subgraphs.identity.api_keys import ApiKeys


def platform_authenticator(
    settings: Settings | None = None,
    database: Any | None = None,
    revocations: Callable[[], RevokedSessions | None] | None = None,
) -> Authenticator:
    """``revocations``: where revoked sessions are learnt (by default, through ``database``
    when one is given)."""
    settings = settings or get_settings()
    api_keys = ApiKeys(database) if database is not None else None

    def sessions() -> RevokedSessions | None:
        if revocations is not None:
            return revocations()
        if database is not None:
            return revoked_sessions(database, settings.redis_url)
        return None

    async def authenticate(headers: Mapping[str, str]) -> Principal:
        try:
            claims = await callers.authenticate(
                headers,
                settings,
                api_keys=api_keys.find if api_keys is not None else None,
                sessions=sessions,
            )
        except InvalidTokenError:
            return REJECTED
        if claims is None:
            return ANONYMOUS
        audiences = None if claims.api_key_id is not None else claims.audiences
        return Principal(True, frozenset(claims.scopes), audiences=audiences)

    return authenticate


def authenticate(headers: Mapping[str, str]) -> Any:
    """The standalone router's authenticator (``GATEWAY_AUTHENTICATOR`` points here):
    access tokens only, verified with the configured keys or ``JWT_JWKS_URL``."""
    return _default(headers)


_standalone: list[RevokedSessions | None] = []


def _standalone_revocations() -> RevokedSessions | None:
    """The standalone router's view of revoked sessions: Redis when ``REDIS_URL`` is set,
    and the platform's database when ``DATABASE_URL`` is (never a local file of its own)."""
    if not _standalone:
        settings = get_settings()
        database = None
        if os.environ.get("DATABASE_URL"):
            from media_gateway.storage.database import Database

            database = Database(settings.database_url, schema=settings.database_schema)
        found = None
        if settings.redis_url or database is not None:
            found = RevokedSessions(database, settings.redis_url)
        _standalone.append(found)
    return _standalone[0]


_default = platform_authenticator(revocations=_standalone_revocations)
