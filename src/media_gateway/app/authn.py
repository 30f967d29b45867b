"""Who is calling, for the gateway's @authenticated / @requiresScopes checks.

The router knows only `Principal`s; this adapter makes one from the platform's access tokens
(verified against the identity keys or JWKS) and API keys (looked up in storage when the
database is at hand, as in the embedded mode).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from media_gateway.auth import (
    InvalidTokenError,
    api_key_secret,
    bearer_token,
    verify_access_token,
    verify_api_key,
)
from media_gateway.gateway.authorization import ANONYMOUS, Authenticator, Principal
from media_gateway.settings import Settings, get_settings


def platform_authenticator(
    settings: Settings | None = None, database: Any | None = None
) -> Authenticator:
    settings = settings or get_settings()

    async def authenticate(headers: Mapping[str, str]) -> Principal:
        token = bearer_token(headers)
        try:
            if token is not None:
                claims = verify_access_token(token, settings)
            else:
                secret = api_key_secret(headers)
                if secret is None or database is None:
                    return ANONYMOUS
                claims = await verify_api_key(secret, database)
        except InvalidTokenError:
            return ANONYMOUS
        return Principal(True, frozenset(claims.scopes))

    return authenticate


def authenticate(headers: Mapping[str, str]) -> Any:
    """The standalone router's authenticator (``GATEWAY_AUTHENTICATOR`` points here):
    access tokens only, verified with the configured keys or ``JWT_JWKS_URL``."""
    return _default(headers)


_default = platform_authenticator()
