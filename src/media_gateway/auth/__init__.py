"""Who is calling and what they may do: the foundation every subgraph shares.

- ``keys``: signing keys and the JWKS
- ``tokens``: access tokens and ``Claims``
- ``scopes``: the scope catalogue
- ``callers``: caller identification (bearer token or API key)
- ``revocation``: revoked sessions
- ``profiles``: the viewing profile a caller acts for
"""

# Names importable from ``media_gateway.auth`` while callers move to the modules above.
from media_gateway.auth.callers import (
    API_KEY_PREFIX,
    StoredApiKey,
    api_key_digest,
    api_key_secret,
    bearer_token,
    forget_api_key,
    identify_caller,
    verify_api_key,
    with_api_keys,
)
from media_gateway.auth.keys import KeyRing
from media_gateway.auth.scopes import DELEGABLE_SCOPES, SCOPES, SESSION_SCOPES
from media_gateway.auth.tokens import (
    CLOCK_SKEW_SECONDS,
    Claims,
    InvalidTokenError,
    TokenService,
    prepare_token,
    rating_allowed,
    token_service,
    verify_access_token,
)
from media_gateway.platform.ratings import SCALE as CONTENT_RATINGS

__all__ = [
    "API_KEY_PREFIX",
    "CLOCK_SKEW_SECONDS",
    "CONTENT_RATINGS",
    "DELEGABLE_SCOPES",
    "SCOPES",
    "SESSION_SCOPES",
    "Claims",
    "InvalidTokenError",
    "KeyRing",
    "StoredApiKey",
    "TokenService",
    "api_key_digest",
    "api_key_secret",
    "bearer_token",
    "forget_api_key",
    "identify_caller",
    "prepare_token",
    "rating_allowed",
    "token_service",
    "verify_access_token",
    "verify_api_key",
    "with_api_keys",
]
