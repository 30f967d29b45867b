"""Who is calling: signing keys, the JWKS, access tokens, API keys and scopes.

Tokens are signed with an asymmetric key (RS256 or ES256) named by a ``kid``. Keys live as
PEM files in the key folder (``JWT_KEY_DIR``, by default ``<data dir>/keys``); the identity
subgraph creates one on first start and is the only signer: it notices a key added to its
folder (``media-gateway keys rotate``) within seconds and signs with it. Verifiers read the
same folder (the embedded mode) or, in the distributed mode, fetch the identity service's
JWKS (``JWT_JWKS_URL``): once at start, again when a token names a key they do not know (a
rotation; at most once per ``JWKS_REFETCH_SECONDS``, one fetch at a time) and in the
background once what they hold is older than ``JWKS_MAX_AGE_SECONDS``. A verifier never
creates a key of its own. Only the configured algorithm is
accepted (never ``none``, never an HMAC algorithm), and ``exp``, ``nbf``, ``iss`` and ``aud``
are always required and checked. Rotating adds a key: older keys stay published in the JWKS
so that tokens signed with them stay valid until they expire.

An access token names the active viewing profile: ``pid`` (profile id), ``mcr`` (its
maximum content rating) and ``kids``. Server-to-server clients present an API key instead
(``x-api-key: <secret>`` or ``Authorization: ApiKey <secret>``); every subgraph accepts it
with exactly the key's scopes (see ``with_api_keys``).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt
from jose.exceptions import JOSEError

from media_gateway.platform.settings import Settings, get_settings

log = logging.getLogger(__name__)


CLOCK_SKEW_SECONDS = 5
# a token naming an unknown key fetches the JWKS again, at most this often
JWKS_REFETCH_SECONDS = 5.0
# keys learnt from the JWKS are refreshed in the background once older than this
JWKS_MAX_AGE_SECONDS = 300.0
# how often the signer looks for a key added to its folder
KEY_FOLDER_RECHECK_SECONDS = 5.0
# verified tokens remembered per token service (see TokenService.verify)
VERIFIED_TOKENS_KEPT = 10_000


class InvalidTokenError(Exception):
    """The bearer token cannot be trusted (bad signature, expired, wrong audience, ...)."""


# Scopes a caller can hold, with the words a consent screen shows for them: a read and a
# write scope per domain. A signed-in member's session holds all of them; an API key or a
# third-party app holds the ones it was granted ("identity:admin" only ever by a session).
# Every mutation and every private field of the graph declares the scopes it needs
# (``@requiresScopes``), enforced by the router and again by the subgraph that owns it.
SCOPES: dict[str, str] = {
    "identity:read": "See your account and its viewing profiles.",
    "identity:write": "Change your account and its viewing profiles.",
    "identity:admin": "Manage API keys, OAuth apps, two-step sign-in and device sign-ins.",
    "catalog:read": "Browse and search the catalog.",
    "recommendations:read": "See the recommendations picked for your profile.",
    "recommendations:write": "Tell the recommender what you did with its picks.",
    "playback:read": "See your watch history, what you are watching and how far you got.",
    "playback:write": "Start, pause and end playback and record how far you got.",
    "sync:read": "See your watchlist, your devices and what they share across devices.",
    "sync:write": "Change your watchlist, register devices and send commands to them.",
}
SESSION_SCOPES: frozenset[str] = frozenset(SCOPES)
DELEGABLE_SCOPES: frozenset[str] = SESSION_SCOPES - {"identity:admin"}
# Operator scopes: never held by a member's session nor granted to a key or an app by a member
# (recommendation experiments are run by the platform's operators).
OPERATOR_SCOPES: dict[str, str] = {
    "recommendations:admin": "Run recommendation experiments and read their results.",
}


# Content ratings from most to least permissive audience; TV ratings map onto the same scale.
CONTENT_RATINGS: tuple[str, ...] = ("G", "PG", "PG-13", "R", "NC-17")
_RATING_RANK: dict[str, int] = {
    "G": 0,
    "PG": 1,
    "PG-13": 2,
    "R": 3,
    "NC-17": 4,
    "TV-Y": 0,
    "TV-Y7": 0,
    "TV-G": 0,
    "TV-PG": 1,
    "TV-14": 2,
    "TV-MA": 3,
}


def content_rating_rank(rating: str | None) -> int | None:
    """The rank of a rating on the G < PG < PG-13 < R < NC-17 scale (TV ratings mapped);
    ``None`` for an absent or unknown rating."""
    if rating is None:
        return None
    return _RATING_RANK.get(rating.strip().upper().replace(" ", "-"))


def rating_allowed(max_content_rating: str | None, rating: str | None) -> bool:
    """Whether a title rated ``rating`` may be shown under ``max_content_rating``.

    No maximum allows everything; under a maximum, an unrated or unknown rating is refused
    (parental controls fail closed).
    """
    limit = content_rating_rank(max_content_rating)
    if max_content_rating is None or limit is None:
        return max_content_rating is None
    rank = content_rating_rank(rating)
    return rank is not None and rank <= limit


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

    def has_scopes(self, *scopes: str) -> bool:
        return all(scope in self.scopes for scope in scopes)

    def allows_rating(self, rating: str | None) -> bool:
        """Whether the active profile may see a title rated ``rating``."""
        return rating_allowed(self.max_content_rating, rating)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_pem: bytes | None
    public_jwk: dict[str, Any]


def _kid_for(public_der: bytes) -> str:
    return hashlib.sha256(public_der).hexdigest()[:16]


def _generate_private_key(algorithm: str) -> Any:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class KeyRing:
    """The signing keys in a folder (newest active) plus keys learned from a JWKS."""

    def __init__(self, key_dir: Path, algorithm: str, jwks_url: str | None = None) -> None:
        self.key_dir = key_dir
        self.algorithm = algorithm
        self.jwks_url = jwks_url
        self._keys: dict[str, SigningKey] = {}
        self._active: SigningKey | None = None
        self._lock = threading.Lock()
        self._last_reload = 0.0
        self._files: dict[str, tuple[int, SigningKey | None]] = {}  # name -> (mtime, key)
        self._jwks_kids: set[str] = set()  # keys learnt from the JWKS (not from the folder)
        self._last_fetch = float("-inf")  # when the JWKS was last asked for
        self._fetched_at = float("-inf")  # when it last answered
        self._inflight: asyncio.Task[bool] | None = None
        self._background: asyncio.Future[bool] | None = None
        self.reload()

    # -- loading -------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the key folder; the newest key file is the active (signing) key. Files read
        before and unchanged since are not parsed again."""
        with self._lock:
            self._last_reload = time.monotonic()
            if not self.key_dir.is_dir():
                return
            stamped = []
            for path in self.key_dir.glob("*.pem"):
                try:
                    stamped.append((path.stat().st_mtime_ns, path.name, path))
                except OSError:  # removed meanwhile
                    continue
            for mtime, name, path in sorted(stamped):
                known = self._files.get(name)
                if known is None or known[0] != mtime:
                    try:
                        key = self._load_pem(path.read_bytes())
                    except OSError:
                        continue
                    self._files[name] = known = (mtime, key)
                key = known[1]
                if key is not None:
                    self._keys[key.kid] = key
                    self._active = key

    def _load_pem(self, pem: bytes) -> SigningKey | None:
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            log.warning("ignoring an unreadable key file")
            return None
        is_ec = isinstance(private, ec.EllipticCurvePrivateKey)
        algorithm = "ES256" if is_ec else "RS256"
        if algorithm != self.algorithm:
            return None
        public = private.public_key()
        public_der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        kid = _kid_for(public_der)
        public_jwk = jwk.construct(public_pem.decode(), algorithm).to_dict()
        public_jwk = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in public_jwk.items()}
        public_jwk.update({"kid": kid, "use": "sig", "alg": algorithm})
        return SigningKey(kid=kid, algorithm=algorithm, private_pem=pem, public_jwk=public_jwk)

    def ensure_signing_key(self) -> SigningKey:
        """The active signing key, created (and kept in the key folder) when there is none."""
        if time.monotonic() - self._last_reload > KEY_FOLDER_RECHECK_SECONDS:
            self.reload()  # a key added to the folder (a rotation) becomes the active one
        if self._active is not None and self._active.private_pem is not None:
            return self._active
        self.reload()
        if self._active is not None and self._active.private_pem is not None:
            return self._active
        return self.rotate()

    def rotate(self) -> SigningKey:
        """Create a new active key; older keys stay in the JWKS so issued tokens stay valid."""
        private = _generate_private_key(self.algorithm)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.key_dir.mkdir(parents=True, exist_ok=True)
        key = self._load_pem(pem)
        assert key is not None
        target = self.key_dir / f"{key.kid}.pem"
        temporary = self.key_dir / f".{key.kid}.{uuid.uuid4().hex}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.replace(temporary, target)
        with self._lock:
            self._keys[key.kid] = key
            self._active = key
        log.info("created a signing key", extra={"kid": key.kid, "alg": self.algorithm})
        return key

    def learn_jwks(self, document: Mapping[str, Any], *, replace: bool = False) -> None:
        """Learn the public keys of a JWKS document; ``replace``: it is the whole current
        set, so keys learnt from an earlier one and no longer published are forgotten."""
        published = set()
        for entry in document.get("keys", []):
            if not isinstance(entry, Mapping):
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            if entry.get("alg", self.algorithm) != self.algorithm:
                continue
            published.add(kid)
            with self._lock:
                if kid not in self._keys:
                    self._keys[kid] = SigningKey(kid, self.algorithm, None, dict(entry))
                    self._jwks_kids.add(kid)
        if replace:
            with self._lock:
                for kid in self._jwks_kids - published:
                    self._keys.pop(kid, None)
                self._jwks_kids &= published

    async def refresh_jwks(self, *, force: bool = False) -> bool:
        """Fetch the JWKS from ``JWT_JWKS_URL``: one fetch at a time (callers arriving
        meanwhile share it) and, unless ``force``, not more often than once per
        ``JWKS_REFETCH_SECONDS``. Whether the JWKS answered."""
        if not self.jwks_url:
            return False
        loop = asyncio.get_running_loop()
        task = self._inflight
        if task is None or task.done() or task.get_loop() is not loop:
            if not force and time.monotonic() - self._last_fetch < JWKS_REFETCH_SECONDS:
                return False
            self._last_fetch = time.monotonic()
            task = self._inflight = loop.create_task(self._download(self.jwks_url))
        return await asyncio.shield(task)

    async def _download(self, url: str) -> bool:
        import httpx

        try:
            async with httpx.AsyncClient(timeout=3.0) as client:
                response = await client.get(url)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning(
                "could not fetch the identity JWKS (JWT_JWKS_URL); tokens signed with a key "
                "not yet learnt are refused until it answers",
                extra={"error": type(exc).__name__},
            )
            return False
        if not isinstance(document, Mapping):
            log.warning("the identity JWKS (JWT_JWKS_URL) is not a JSON object")
            return False
        self.learn_jwks(document, replace=True)
        self._fetched_at = time.monotonic()
        return True

    async def ensure_key(self, kid: str) -> None:
        """Make the key ``kid`` known if it can be: from the folder, else from the JWKS.
        Keys learnt from the JWKS are refreshed in the background once they are old."""
        if kid in self._keys:
            if (
                self.jwks_url
                and kid in self._jwks_kids
                and time.monotonic() - self._fetched_at > JWKS_MAX_AGE_SECONDS
                and time.monotonic() - self._last_fetch > JWKS_REFETCH_SECONDS
            ):
                self._background = asyncio.ensure_future(self.refresh_jwks())
            return
        if self.public_key(kid) is None:
            await self.refresh_jwks()

    def has_keys(self) -> bool:
        """Whether any key to verify tokens with is known."""
        return bool(self._keys)

    def public_key(self, kid: str) -> SigningKey | None:
        """The key ``kid`` among those known (the folder is read again when it is unknown,
        at most every few seconds; the JWKS is fetched by ``ensure_key``, never here: this
        runs on the event loop)."""
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._last_reload > KEY_FOLDER_RECHECK_SECONDS:
            self.reload()
            key = self._keys.get(kid)
        return key

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.public_jwk for key in self._keys.values()]}


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
    ) -> tuple[str, datetime]:
        key = self.keys.ensure_signing_key()
        now = int(time.time())
        expires = now + self.settings.jwt_access_token_ttl_seconds
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
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


def jwks_json(settings: Settings | None = None) -> str:
    return json.dumps(token_service(settings).keys.jwks())


# -- API keys ----------------------------------------------------------------------------
API_KEY_PREFIX = "mgk_"
API_KEY_CACHE_SECONDS = 10.0
API_KEY_TABLE = "identity_api_keys"


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


async def verify_api_key(secret: str, database: Any) -> Claims:
    """The claims an API key grants (its account and exactly its scopes), or
    ``InvalidTokenError`` for an unknown, revoked or expired key."""
    from sqlalchemy import text

    if not secret.startswith(API_KEY_PREFIX) or len(secret) > 200:
        raise InvalidTokenError("unknown API key")
    digest = api_key_digest(secret)
    cached = _api_key_cache.get(digest)
    now = time.monotonic()
    if cached is not None and cached.until > now:
        if cached.claims is None:
            raise InvalidTokenError(cached.error or "unknown API key")
        return cached.claims
    async with database.engine.connect() as connection:
        result = await connection.execute(
            text(
                f"SELECT id, user_id, scopes, created_at, expires_at, revoked_at "
                f"FROM {API_KEY_TABLE} WHERE key_hash = :digest"
            ),
            {"digest": digest},
        )
        row = result.first()
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


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite through a text query
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


ContextFactoryT = Callable[[Mapping[str, str]], Awaitable[Any]]


def with_api_keys(
    factory: ContextFactoryT, database: Any, settings: Settings | None = None
) -> ContextFactoryT:
    """Wrap a subgraph's context factory so that API keys in the headers are verified
    (asynchronously, against the key table) and a bearer token's signing key is known
    (fetched from the JWKS after a rotation) before ``identify_caller`` runs."""

    async def context(headers: Mapping[str, str]) -> Any:
        secret = api_key_secret(headers)
        if secret is None:
            token = bearer_token(headers)
            if token is None:
                return await factory(headers)
            await prepare_token(token, settings)
            return await _with_sessions_checked(factory, headers, database)
        try:
            verdict: tuple[Claims | None, str | None] = (
                await verify_api_key(secret, database),
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
    see ``media_gateway.revocation``) before ``identify_caller`` judges a bearer token."""
    from media_gateway.revocation import revoked_sessions

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
    from media_gateway.revocation import REVOKED_MESSAGE, UNCHECKABLE_MESSAGE

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


# -- @authenticated / @requiresScopes inside a subgraph --------------------------------------
@dataclass(frozen=True)
class Requirement:
    """What a field demands: a signed-in caller, and one of several sets of scopes."""

    authenticated: bool
    scope_sets: tuple[frozenset[str], ...] = ()

    def refusal(self, viewer: Claims | None, auth_error: str | None = None) -> Exception | None:
        from media_gateway.schema.common import forbidden, unauthenticated

        if viewer is None:
            reason = f" (the credentials were refused: {auth_error})" if auth_error else ""
            return unauthenticated(f"Sign in to see this field{reason}.")
        if self.scope_sets and not any(needed <= viewer.scopes for needed in self.scope_sets):
            wanted = " or ".join(" + ".join(sorted(s)) for s in self.scope_sets)
            return forbidden(f"This field needs the scope {wanted}.")
        return None


def field_requirement(directives: Any) -> Requirement | None:
    """The requirement stated by a field's (or type's) federation directives."""
    from strawberry.federation.schema_directives import Authenticated, RequiresScopes

    authenticated = False
    scope_sets: list[frozenset[str]] = []
    for directive in directives or ():
        if isinstance(directive, Authenticated):
            authenticated = True
        elif isinstance(directive, RequiresScopes):
            authenticated = True
            scope_sets.extend(frozenset(group) for group in directive.scopes)
    if not authenticated:
        return None
    return Requirement(True, tuple(scope_sets))


def _authorization_extension() -> type:
    from strawberry.extensions import SchemaExtension

    class AuthorizationExtension(SchemaExtension):
        """Enforces ``@authenticated`` and ``@requiresScopes`` declared with Strawberry
        (``authenticated=True``, ``requires_scopes=[[...]]``) on fields and object types, from
        the ``viewer`` / ``auth_error`` of the request context: the field resolves to null with
        an UNAUTHENTICATED or FORBIDDEN error, the rest of the response survives."""

        _cache: dict[tuple[str, str], Requirement | None] = {}

        def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
            key = (info.parent_type.name, info.field_name)
            if key not in self._cache:
                self._cache[key] = _requirement_of(info.parent_type, info.field_name)
            requirement = self._cache[key]
            if requirement is not None:
                context = info.context
                refusal = requirement.refusal(
                    getattr(context, "viewer", None), getattr(context, "auth_error", None)
                )
                if refusal is not None:
                    raise refusal
            return _next(root, info, *args, **kwargs)

    return AuthorizationExtension


def _requirement_of(parent_type: Any, field_name: str) -> Requirement | None:
    requirements = []
    type_definition = parent_type.extensions.get("strawberry-definition")
    if type_definition is not None:
        requirements.append(field_requirement(getattr(type_definition, "directives", ())))
    graphql_field = parent_type.fields.get(field_name)
    field_definition = (
        graphql_field.extensions.get("strawberry-definition") if graphql_field else None
    )
    if field_definition is not None:
        requirements.append(field_requirement(getattr(field_definition, "directives", ())))
    found = [r for r in requirements if r is not None]
    if not found:
        return None
    # every stated requirement applies: the scope sets of each must be met
    if len(found) == 1:
        return found[0]
    merged: list[frozenset[str]] = [frozenset()]
    for requirement in found:
        if requirement.scope_sets:
            merged = [a | b for a in merged for b in requirement.scope_sets]
    return Requirement(True, tuple(s for s in merged if s))


AuthorizationExtension: type = _authorization_extension()
