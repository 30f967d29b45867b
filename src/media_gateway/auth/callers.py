"""Who is calling: a bearer access token or an API key in the request's headers.

Server-to-server clients present an API key (``x-api-key: <secret>`` or
``Authorization: ApiKey <secret>``); every subgraph accepts it with exactly the key's scopes.
API keys belong to the identity subgraph: caller identification finds them through an
``ApiKeyLookup`` it is handed (the identity subgraph's, injected by the assembly), never by
reading identity's tables. A bearer token is refused when its session was revoked (see
``media_gateway.auth.revocation``).
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from media_gateway.auth.revocation import (
    REVOKED_MESSAGE,
    UNCHECKABLE_MESSAGE,
    RevokedSessions,
    revoked_sessions,
)
from media_gateway.auth.tokens import (
    Claims,
    InvalidTokenError,
    prepare_token,
    verify_access_token,
)
from media_gateway.platform.settings import Settings

log = logging.getLogger(__name__)

API_KEY_PREFIX = "mgk_"
API_KEY_CACHE_SECONDS = 10.0


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header (header names case-insensitive)."""
    value = None
    for name, header_value in headers.items():
        if name.lower() == "authorization":
            value = header_value
            break
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_key_digest(secret: str) -> str:
    """How an API key is stored: the SHA-256 of a 256-bit random secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_secret(headers: Mapping[str, str]) -> str | None:
    """The key of an ``x-api-key`` header or an ``Authorization: ApiKey ...`` header."""
    for name, value in headers.items():
        lowered = name.lower()
        if lowered == "x-api-key" and value.strip():
            return value.strip()
        if lowered == "authorization":
            scheme, _, secret = value.partition(" ")
            if scheme.lower() == "apikey" and secret.strip():
                return secret.strip()
    return None


@dataclass(frozen=True)
class StoredApiKey:
    """An API key as the identity subgraph keeps it (found by the digest of its secret)."""

    id: str
    user_id: str
    scopes: str  # space-separated
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


# the stored key whose secret has this digest (``api_key_digest``), or None
ApiKeyLookup = Callable[[str], Awaitable[StoredApiKey | None]]


@dataclass(frozen=True)
class _CachedKey:
    claims: Claims | None
    error: str | None
    until: float


_api_key_cache: dict[str, _CachedKey] = {}
_api_key_result: contextvars.ContextVar[tuple[Claims | None, str | None] | None] = (
    contextvars.ContextVar("api_key_result", default=None)
)


def forget_api_key(digest: str | None = None) -> None:
    """Drop cached API-key verdicts (one key's, or all) after a key is revoked."""
    if digest is None:
        _api_key_cache.clear()
    else:
        _api_key_cache.pop(digest, None)


async def verify_api_key(secret: str, lookup: ApiKeyLookup) -> Claims:
    """The claims an API key grants (its account and exactly its scopes), or
    ``InvalidTokenError`` for an unknown, revoked or expired key."""
    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 200:
        raise InvalidTokenError("unknown API key")
    digest = api_key_digest(secret)
    cached = _api_key_cache.get(digest)
    now = time.monotonic()
    if cached is not None and cached.until > now:
        if cached.claims is None:
            raise InvalidTokenError(cached.error or "unknown API key")
        return cached.claims
    row = await lookup(digest)
    claims: Claims | None = None
    error: str | None = None
    if row is None:
        error = "unknown API key"
    elif row.revoked_at is not None:
        error = "this API key was revoked"
    else:
        expires_at = _as_datetime(row.expires_at)
        if expires_at is not None and expires_at <= datetime.now(UTC):
            error = "this API key has expired"
        else:
            created = _as_datetime(row.created_at) or datetime.now(UTC)
            claims = Claims(
                subject=str(row.user_id),
                issued_at=created,
                expires_at=expires_at or datetime.max.replace(tzinfo=UTC),
                token_id=str(row.id),
                scopes=frozenset(str(row.scopes or "").split()),
                raw={"api_key": str(row.id)},
                api_key_id=str(row.id),
            )
    if len(_api_key_cache) > 10_000:
        _api_key_cache.clear()
    _api_key_cache[digest] = _CachedKey(claims, error, now + API_KEY_CACHE_SECONDS)
    if claims is None:
        raise InvalidTokenError(error or "unknown API key")
    return claims


def _as_datetime(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


ContextFactoryT = Callable[[Mapping[str, str]], Awaitable[Any]]


def with_api_keys(
    factory: ContextFactoryT,
    database: Any,
    settings: Settings | None = None,
    *,
    api_keys: ApiKeyLookup | None = None,
) -> ContextFactoryT:
    """Wrap a subgraph's context factory so that API keys in the headers are verified
    (asynchronously, through ``api_keys``; without it they are refused) and a bearer token's
    signing key is known (fetched from the JWKS after a rotation) and its session checked
    against the revoked ones (kept for ``database``) before ``identify_caller`` runs."""

    async def context(headers: Mapping[str, str]) -> Any:
        secret = api_key_secret(headers)
        if secret is None:
            token = bearer_token(headers)
            if token is None:
                return await factory(headers)
            await prepare_token(token, settings)
            return await _with_sessions_checked(factory, headers, database)
        if api_keys is None:
            return await factory(headers)
        try:
            verdict: tuple[Claims | None, str | None] = (
                await verify_api_key(secret, api_keys),
                None,
            )
        except InvalidTokenError as exc:
            verdict = (None, str(exc))
        except Exception as exc:  # the key table is unreachable: refuse, never crash
            log.warning("could not verify an API key", extra={"error": type(exc).__name__})
            verdict = (None, "API keys cannot be checked right now")
        marker = _api_key_result.set(verdict)
        try:
            return await factory(headers)
        finally:
            _api_key_result.reset(marker)

    return context


# what the request's context factory learnt of revoked sessions: (what this process knows,
# whether it is recent enough to judge by); unset outside a subgraph's context factory
_revoked_sessions: contextvars.ContextVar[tuple[Any, bool] | None] = contextvars.ContextVar(
    "revoked_sessions", default=None
)


async def _with_sessions_checked(
    factory: ContextFactoryT, headers: Mapping[str, str], database: Any
) -> Any:
    """Bring what this process knows of revoked sessions up to date (rarely a round trip:
    see ``media_gateway.auth.revocation``) before ``identify_caller`` judges a bearer token."""
    sessions = revoked_sessions(database)
    marker = _revoked_sessions.set((sessions, await sessions.current()))
    try:
        return await factory(headers)
    finally:
        _revoked_sessions.reset(marker)


def session_refusal(claims: Claims) -> str | None:
    """Why a verified access token must still be refused (its session was revoked, or
    revocations cannot be checked right now), or None."""
    if claims.session_id is None:
        return None
    state = _revoked_sessions.get()
    if state is None:
        return None
    sessions, current = state
    if not current:
        return UNCHECKABLE_MESSAGE
    return REVOKED_MESSAGE if sessions.is_revoked(claims.session_id) else None


def identify_caller(
    headers: Mapping[str, str], settings: Settings
) -> tuple[Claims | None, str | None]:
    """The caller's claims (bearer access token or API key), or the reason they were refused."""
    token = bearer_token(headers)
    if token is not None:
        try:
            claims = verify_access_token(token, settings)
        except InvalidTokenError as exc:
            return None, str(exc)
        refusal = session_refusal(claims)
        return (None, refusal) if refusal is not None else (claims, None)
    if api_key_secret(headers) is not None:
        verdict = _api_key_result.get()
        if verdict is None:
            return None, "API keys are not accepted here"
        return verdict
    return None, None


async def authenticate(
    headers: Mapping[str, str],
    settings: Settings,
    *,
    api_keys: ApiKeyLookup | None = None,
    sessions: Callable[[], RevokedSessions | None] | None = None,
) -> Claims | None:
    """The caller's claims, or None for a caller presenting no credentials, outside a
    subgraph's context factory (the router's authenticator): a bearer token's signing key is
    learnt when new and its session checked against ``sessions()`` (when given); an API key
    is looked up through ``api_keys`` (without it, the caller counts as presenting none).
    Refused credentials raise ``InvalidTokenError``."""
    token = bearer_token(headers)
    if token is not None:
        await prepare_token(token, settings)  # a key new since a rotation
        claims = verify_access_token(token, settings)
        checker = sessions() if sessions is not None and claims.session_id is not None else None
        if checker is not None:
            refusal = await checker.check(claims.session_id)
            if refusal is not None:
                raise InvalidTokenError(refusal)
        return claims
    secret = api_key_secret(headers)
    if secret is None or api_keys is None:
        return None
    return await verify_api_key(secret, api_keys)
