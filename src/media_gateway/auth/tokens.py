"""Access tokens and what they say about the caller (``Claims``).

Only the configured algorithm is accepted (never ``none``, never an HMAC algorithm), and
``exp``, ``nbf``, ``iss`` and ``aud`` are always required and checked. An access token names
the active viewing profile: ``pid`` (profile id), ``mcr`` (its maximum content rating) and
``kids``; ``sid`` names the session it belongs to (see ``media_gateway.auth.revocation``).

A token issued for a resource indicator (RFC 8707, e.g. the MCP endpoint's URL) names that
resource in ``aud`` beside the platform's own audience: the resource accepts only tokens that
name it, and the API behind it (where the resource runs its operations under the caller's
credentials) still accepts the token as any other.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jose import jwt
from jose.exceptions import JOSEError

from media_gateway.auth.keys import KeyRing
from media_gateway.auth.scopes import SESSION_SCOPES
from media_gateway.platform import ratings
from media_gateway.platform.settings import Settings, get_settings

CLOCK_SKEW_SECONDS = 5
# verified tokens remembered per token service (see TokenService.verify)
VERIFIED_TOKENS_KEPT = 10_000


class InvalidTokenError(Exception):
    """The bearer token cannot be trusted (bad signature, expired, wrong audience, ...)."""


def rating_allowed(max_content_rating: str | None, rating: str | None) -> bool:
    """Whether a title rated ``rating`` may be shown under ``max_content_rating``.

    No maximum allows everything; under a maximum, an unrated or unknown rating is refused,
    and so is everything under a maximum that is not a known rating (parental controls fail
    closed).
    """
    if max_content_rating is None:
        return True
    if not ratings.is_known(max_content_rating) or not ratings.is_known(rating):
        return False
    return ratings.allowed(rating, max_content_rating)


@dataclass(frozen=True)
class Claims:
    """What a verified access token (or API key) says about the caller."""

    subject: str
    issued_at: datetime
    expires_at: datetime
    token_id: str
    scopes: frozenset[str] = frozenset()
    raw: Mapping[str, Any] = field(default_factory=dict)
    profile_id: str | None = None
    max_content_rating: str | None = None
    kids: bool = False
    api_key_id: str | None = None
    # the session (refresh-token family) an access token belongs to: revoking it stops them
    session_id: str | None = None

    @property
    def user_id(self) -> str:
        return self.subject

    @property
    def audiences(self) -> frozenset[str]:
        """The audiences (``aud``) of an access token; none for an API key."""
        aud = self.raw.get("aud")
        if isinstance(aud, str):
            return frozenset((aud,))
        if isinstance(aud, list | tuple):
            return frozenset(str(a) for a in aud)
        return frozenset()

    def allows_rating(self, rating: str | None) -> bool:
        """Whether the active profile may see a title rated ``rating``."""
        return rating_allowed(self.max_content_rating, rating)


class TokenService:
    """Issues and verifies access tokens for one issuer and audience."""

    def __init__(self, settings: Settings, keys: KeyRing | None = None) -> None:
        self.settings = settings
        self.keys = keys or KeyRing(
            settings.jwt_key_dir, settings.jwt_algorithm, settings.jwt_jwks_url
        )
        # tokens whose signature, issuer and audience were verified: token -> (kid, claims).
        # A device presents the same token on every request (and the gateway and each
        # subgraph verify it again); checking an RSA signature each time was a sizeable
        # share of a request's CPU. The clock checks (exp, nbf) still run on every use, and
        # an entry counts only while its key is still published.
        self._verified: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()

    def issue_access_token(
        self,
        subject: str,
        *,
        scopes: frozenset[str] | tuple[str, ...] = (),
        profile_id: str | None = None,
        max_content_rating: str | None = None,
        kids: bool = False,
        session_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
        resources: Sequence[str] = (),
    ) -> tuple[str, datetime]:
        """``resources``: the resource indicators (RFC 8707) the token is for; they lead its
        ``aud``, followed by the platform's audience (without any, ``aud`` is that audience
        alone, as a string)."""
        key = self.keys.ensure_signing_key()
        now = int(time.time())
        expires = now + self.settings.jwt_access_token_ttl_seconds
        audience: str | list[str] = self.settings.jwt_audience
        if resources:
            audience = list(dict.fromkeys([*resources, self.settings.jwt_audience]))
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": expires,
            "jti": uuid.uuid4().hex,
        }
        if scopes:
            claims["scope"] = " ".join(sorted(scopes))
        if session_id is not None:
            claims["sid"] = session_id
        if profile_id is not None:
            claims["pid"] = profile_id
            claims["kids"] = bool(kids)
            if max_content_rating is not None:
                claims["mcr"] = max_content_rating
        if extra:
            claims.update({k: v for k, v in extra.items() if k not in claims})
        assert key.private_pem is not None
        token = jwt.encode(
            claims,
            key.private_pem.decode(),
            algorithm=key.algorithm,
            headers={"kid": key.kid, "typ": "JWT"},
        )
        return token, datetime.fromtimestamp(expires, UTC)

    async def prepare(self, token: str) -> None:
        """Before ``verify`` (which never waits): learn the key the token names when it is
        not known yet (a rotation at the identity service)."""
        if token in self._verified:
            return
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except JOSEError:
            return
        if isinstance(kid, str) and kid:
            await self.keys.ensure_key(kid)

    def verify(self, token: str) -> Claims:
        hit = self._verified.get(token)
        if hit is not None and self.keys.public_key(hit[0]) is not None:
            self._verified.move_to_end(token)
            now = time.time()
            exp, nbf = hit[1]["exp"], hit[1]["nbf"]
            if now - CLOCK_SKEW_SECONDS >= exp:
                raise InvalidTokenError("Signature has expired.")
            if now + CLOCK_SKEW_SECONDS < nbf:
                raise InvalidTokenError("The token is not yet valid (nbf)")
            return _claims(hit[1])
        kid, claims = self._verify_signed(token)
        if isinstance(claims.get("exp"), int | float) and isinstance(
            claims.get("nbf"), int | float
        ):
            self._verified[token] = (kid, claims)
            if len(self._verified) > VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        return _claims(claims)

    def _verify_signed(self, token: str) -> tuple[str, dict[str, Any]]:
        """The signing key's id and the claims of a token whose signature, issuer and
        audience check out."""
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise InvalidTokenError("malformed token") from exc
        # only the configured asymmetric algorithm: no "none", no HS256 keyed with a public key
        if header.get("alg") != self.settings.jwt_algorithm:
            raise InvalidTokenError("unexpected signing algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidTokenError("token has no key id")
        key = self.keys.public_key(kid)
        if key is None:
            raise InvalidTokenError("unknown signing key")
        try:
            claims = jwt.decode(
                token,
                key.public_jwk,
                algorithms=[self.settings.jwt_algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={
                    "require_exp": True,
                    "require_nbf": True,
                    "require_iat": True,
                    "require_iss": True,
                    "require_aud": True,
                    "require_sub": True,
                    "leeway": CLOCK_SKEW_SECONDS,
                },
            )
        except JOSEError as exc:
            raise InvalidTokenError(str(exc) or "invalid token") from exc
        return kid, claims


def _claims(claims: dict[str, Any]) -> Claims:
    scope = claims.get("scope")
    profile_id = claims.get("pid")
    rating = claims.get("mcr")
    session_id = claims.get("sid")
    return Claims(
        subject=str(claims["sub"]),
        issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        token_id=str(claims.get("jti") or ""),
        # no scope claim: a member's own session, which holds every session scope
        scopes=(frozenset(scope.split()) if isinstance(scope, str) else frozenset())
        if "scope" in claims
        else SESSION_SCOPES,
        raw=claims,
        profile_id=str(profile_id) if isinstance(profile_id, str) else None,
        max_content_rating=str(rating) if isinstance(rating, str) else None,
        kids=claims.get("kids") is True,
        session_id=session_id if isinstance(session_id, str) and session_id else None,
    )


_services: dict[tuple[Any, ...], TokenService] = {}


def token_service(settings: Settings | None = None) -> TokenService:
    """The token service for these settings (one per key folder, issuer and audience)."""
    settings = settings or get_settings()
    cache_key = (
        str(settings.jwt_key_dir),
        settings.jwt_algorithm,
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.jwt_jwks_url,
        settings.jwt_access_token_ttl_seconds,
    )
    service = _services.get(cache_key)
    if service is None:
        service = _services[cache_key] = TokenService(settings)
    return service


async def prepare_token(token: str, settings: Settings | None = None) -> None:
    """Learn the signing key a bearer token names, when it is new (see ``TokenService.prepare``)."""
    await token_service(settings).prepare(token)


def verify_access_token(token: str, settings: Settings | None = None) -> Claims:
    """Verify a bearer access token and return its claims, or raise ``InvalidTokenError``."""
    return token_service(settings).verify(token)
