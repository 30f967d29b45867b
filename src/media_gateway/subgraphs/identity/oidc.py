"""The relying party's side of social sign-in: the outside providers a member may sign in
with, and the protocol with each of them.

- **OpenID Connect** (any issuer; presets for Google and Apple): the provider's discovery
  document (``/.well-known/openid-configuration``, its ``issuer`` must be the configured
  one), the authorization code flow with PKCE (S256), ``state`` and ``nonce``, and the ID
  token validated against the provider's JWKS with ``joserfc`` (signature by an asymmetric
  algorithm the provider announces, ``iss``, ``aud``/``azp``, ``exp``, ``iat``, ``nonce``).
- **GitHub**, which is not an OpenID provider: OAuth 2.0 with PKCE and ``state``, then its
  user API for the account's id and its primary verified email.

Configuration comes from the environment through ``Settings.social_sign_in``:
``GOOGLE_CLIENT_ID``/``GOOGLE_CLIENT_SECRET``, ``APPLE_CLIENT_ID`` with ``APPLE_CLIENT_SECRET``
(or ``APPLE_TEAM_ID``, ``APPLE_KEY_ID`` and ``APPLE_PRIVATE_KEY`` to mint it),
``GITHUB_CLIENT_ID``/``GITHUB_CLIENT_SECRET``, and ``OIDC_PROVIDERS``, a JSON object naming
any other OpenID providers: ``{"name": {"issuer": ..., "client_id": ..., "client_secret":
..., "display_name": ..., "scopes": ...}}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import ECKey, KeySet

DISCOVERY_PATH = "/.well-known/openid-configuration"
# ID tokens signed by a provider's private key only: never "none" nor a shared secret
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
# path segments under /login/ that name pages, not providers
RESERVED_NAMES = frozenset({"done", "link"})
CLOCK_SKEW_SECONDS = 60
METADATA_TTL_SECONDS = 3600.0
KEY_REFETCH_SECONDS = 60.0
HTTP_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 1024 * 1024


class ProviderConfigError(ValueError):
    """The social sign-in configuration cannot be used (named in the message)."""


class SocialSignInError(Exception):
    """A social sign-in that cannot go on; ``kind`` says why (for the page and the tests):
    ``provider_error``, ``provider_unreachable``, ``state_mismatch``, ``expired``,
    ``nonce_mismatch``, ``invalid_token``, ``unverified_email``, ``unknown_provider``,
    ``not_linked``, ``last_sign_in``."""

    def __init__(self, kind: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ExternalIdentity:
    """Who the provider says signed in: its stable subject and what it vouches for."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None


@dataclass(frozen=True)
class SocialProvider:
    """One outside provider. ``kind`` "oidc" discovers its endpoints from ``issuer``;
    "github" names them (``authorization_endpoint``, ``token_endpoint``, ``api_url``)."""

    name: str
    display_name: str
    client_id: str
    client_secret: str | None = None
    kind: Literal["oidc", "github"] = "oidc"
    issuer: str | None = None
    scopes: tuple[str, ...] = ("openid", "email", "profile")
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    api_url: str | None = None
    # Apple answers with a form post when it is asked for the email
    response_mode: str | None = None
    # a client secret made when needed (Apple's is a short-lived signed JWT)
    secret_factory: Callable[[], str] | None = field(default=None, compare=False)

    def secret(self) -> str | None:
        return self.secret_factory() if self.secret_factory else self.client_secret


def github(
    client_id: str,
    client_secret: str,
    *,
    web_url: str = "https://github.com",
    api_url: str = "https://api.github.com",
) -> SocialProvider:
    """The GitHub preset (OAuth 2.0 and its user API; GitHub Enterprise by its URLs)."""
    web_url = web_url.rstrip("/")
    return SocialProvider(
        name="github",
        display_name="GitHub",
        client_id=client_id,
        client_secret=client_secret,
        kind="github",
        scopes=("read:user", "user:email"),
        authorization_endpoint=f"{web_url}/login/oauth/authorize",
        token_endpoint=f"{web_url}/login/oauth/access_token",
        api_url=api_url.rstrip("/"),
    )


def _apple_secret(team_id: str, key_id: str, client_id: str, private_key: str) -> Callable[[], str]:
    """Apple's client secret: an ES256 JWT signed with the team's key, remade hourly."""
    text = private_key
    if not text.lstrip().startswith("-----BEGIN") and Path(text).is_file():
        text = Path(text).read_text(encoding="utf-8")
    try:
        key = ECKey.import_key(text)
    except (JoseError, ValueError) as exc:
        raise ProviderConfigError("APPLE_PRIVATE_KEY is not an EC private key (PEM)") from exc
    made: dict[str, Any] = {}

    def secret() -> str:
        now = int(time.time())
        if made.get("until", 0) > now:
            return str(made["value"])
        claims = {
            "iss": team_id,
            "iat": now,
            "exp": now + 3600,
            "aud": "https://appleid.apple.com",
            "sub": client_id,
        }
        made["value"] = jwt.encode({"alg": "ES256", "kid": key_id}, claims, key)
        made["until"] = now + 3000
        return str(made["value"])

    return secret


def providers_from_config(config: Mapping[str, str]) -> dict[str, SocialProvider]:
    """The configured providers by name, from the environment's social sign-in variables
    (see the module's text); ``ProviderConfigError`` names what is wrong."""
    found: dict[str, SocialProvider] = {}
    if config.get("GOOGLE_CLIENT_ID"):
        found["google"] = SocialProvider(
            name="google",
            display_name="Google",
            client_id=config["GOOGLE_CLIENT_ID"],
            client_secret=config.get("GOOGLE_CLIENT_SECRET"),
            issuer="https://accounts.google.com",
        )
    if config.get("APPLE_CLIENT_ID"):
        client_id = config["APPLE_CLIENT_ID"]
        factory = None
        if not config.get("APPLE_CLIENT_SECRET"):
            missing = [
                name
                for name in ("APPLE_TEAM_ID", "APPLE_KEY_ID", "APPLE_PRIVATE_KEY")
                if not config.get(name)
            ]
            if missing:
                raise ProviderConfigError(
                    "APPLE_CLIENT_ID needs APPLE_CLIENT_SECRET, or " + ", ".join(missing)
                )
            factory = _apple_secret(
                config["APPLE_TEAM_ID"],
                config["APPLE_KEY_ID"],
                client_id,
                config["APPLE_PRIVATE_KEY"],
            )
        found["apple"] = SocialProvider(
            name="apple",
            display_name="Apple",
            client_id=client_id,
            client_secret=config.get("APPLE_CLIENT_SECRET"),
            issuer="https://appleid.apple.com",
            scopes=("openid", "email", "name"),
            response_mode="form_post",
            secret_factory=factory,
        )
    if config.get("GITHUB_CLIENT_ID"):
        if not config.get("GITHUB_CLIENT_SECRET"):
            raise ProviderConfigError("GITHUB_CLIENT_ID needs GITHUB_CLIENT_SECRET")
        found["github"] = github(config["GITHUB_CLIENT_ID"], config["GITHUB_CLIENT_SECRET"])
    listed = config.get("OIDC_PROVIDERS")
    if listed:
        try:
            entries = json.loads(listed)
        except ValueError as exc:
            raise ProviderConfigError("OIDC_PROVIDERS is not JSON") from exc
        if not isinstance(entries, dict):
            raise ProviderConfigError("OIDC_PROVIDERS must be a JSON object of providers")
        for name, entry in entries.items():
            found[name] = _listed_provider(name, entry)
    return found


def _listed_provider(name: str, entry: Any) -> SocialProvider:
    where = f"OIDC_PROVIDERS[{name!r}]"
    if not isinstance(name, str) or not PROVIDER_NAME.match(name) or name in RESERVED_NAMES:
        raise ProviderConfigError(
            f"{where}: a provider's name is 2 to 31 lowercase letters, digits or dashes "
            f"(not {', '.join(sorted(RESERVED_NAMES))})"
        )
    if not isinstance(entry, dict):
        raise ProviderConfigError(f"{where} must be an object")
    issuer, client_id = entry.get("issuer"), entry.get("client_id")
    if not isinstance(issuer, str) or not isinstance(client_id, str) or not client_id:
        raise ProviderConfigError(f"{where} needs an issuer and a client_id")
    if not _acceptable_url(issuer):
        raise ProviderConfigError(f"{where}: the issuer must be an https URL (http on loopback)")
    scopes = entry.get("scopes", "openid email profile")
    if not isinstance(scopes, str) or "openid" not in scopes.split():
        raise ProviderConfigError(f"{where}: scopes is a space-separated string with openid")
    secret = entry.get("client_secret")
    display = entry.get("display_name") or name.capitalize()
    return SocialProvider(
        name=name,
        display_name=str(display)[:40],
        client_id=client_id,
        client_secret=secret if isinstance(secret, str) and secret else None,
        issuer=issuer.rstrip("/"),
        scopes=tuple(scopes.split()),
    )


def _acceptable_url(url: str) -> bool:
    parts = urlsplit(url)
    if not parts.netloc or parts.fragment or parts.query:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"}


class ProviderClient:
    """The relying party towards every configured provider: discovery and keys (cached),
    the authorization URL, the code exchange and the validation of what comes back."""

    def __init__(
        self,
        providers: Mapping[str, SocialProvider],
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.providers = dict(providers)
        self._http = http
        self.clock = clock
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}
        self._refetched: dict[str, float] = {}

    def provider(self, name: str) -> SocialProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise SocialSignInError(
                "unknown_provider", "Signing in with this provider is not available here.", 404
            )
        return provider

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=HTTP_TIMEOUT_SECONDS,
                follow_redirects=False,
                headers={"user-agent": "media-gateway-social-sign-in"},
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    # -- fetching --------------------------------------------------------------------------
    async def _json(self, provider: SocialProvider, request: httpx.Request) -> Any:
        try:
            response = await self.http.send(request)
        except httpx.HTTPError as exc:
            raise SocialSignInError(
                "provider_unreachable",
                f"{provider.display_name} could not be reached; try again in a moment.",
                502,
            ) from exc
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise SocialSignInError(
                "provider_error", f"{provider.display_name} sent an unusable answer.", 502
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400 or not isinstance(body, dict | list):
            detail = body.get("error") if isinstance(body, dict) else None
            raise SocialSignInError(
                "provider_error",
                f"{provider.display_name} refused the sign-in"
                + (f" ({str(detail)[:80]})." if detail else "."),
                502,
            )
        return body

    async def metadata(self, provider: SocialProvider) -> dict[str, Any]:
        """The provider's discovery document (OpenID Connect Discovery 1.0 section 4)."""
        cached = self._metadata.get(provider.name)
        if cached and cached[0] > self.clock():
            return cached[1]
        assert provider.issuer is not None
        document = await self._json(
            provider, self.http.build_request("GET", provider.issuer + DISCOVERY_PATH)
        )
        needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if (
            not isinstance(document, dict)
            or document.get("issuer") != provider.issuer  # section 4.3: must be identical
            or not all(isinstance(document.get(k), str) for k in needed)
            or not all(_acceptable_url(str(document[k]).split("?")[0]) for k in needed)
        ):
            raise SocialSignInError(
                "provider_error",
                f"{provider.display_name}'s discovery document does not describe its issuer.",
                502,
            )
        self._metadata[provider.name] = (self.clock() + METADATA_TTL_SECONDS, document)
        return document

    async def _key_set(self, provider: SocialProvider, *, refresh: bool = False) -> KeySet:
        cached = self._keys.get(provider.name)
        if cached and cached[0] > self.clock() and not refresh:
            return cached[1]
        metadata = await self.metadata(provider)
        body = await self._json(provider, self.http.build_request("GET", metadata["jwks_uri"]))
        try:
            keys = KeySet.import_key_set(body)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise SocialSignInError(
                "provider_error", f"{provider.display_name}'s signing keys are unusable.", 502
            ) from exc
        self._keys[provider.name] = (self.clock() + METADATA_TTL_SECONDS, keys)
        return keys

    # -- the flow --------------------------------------------------------------------------
    async def authorization_request(
        self, provider: SocialProvider, redirect_uri: str, state: str, nonce: str, verifier: str
    ) -> str:
        """The provider's authorization URL for this flow (code, PKCE S256, state, nonce)."""
        if provider.kind == "oidc":
            endpoint = str((await self.metadata(provider))["authorization_endpoint"])
        else:
            assert provider.authorization_endpoint is not None
            endpoint = provider.authorization_endpoint
        params = {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(provider.scopes),
            "state": state,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if provider.kind == "oidc":
            params["nonce"] = nonce
        if provider.response_mode:
            params["response_mode"] = provider.response_mode
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}"

    async def identity(
        self, provider: SocialProvider, code: str, redirect_uri: str, verifier: str, nonce: str
    ) -> ExternalIdentity:
        """Exchange the code (with the PKCE verifier) and say who signed in: from the
        validated ID token (OpenID Connect) or GitHub's user API."""
        tokens = await self.exchange_code(provider, code, redirect_uri, verifier)
        if provider.kind == "github":
            return await self._github_identity(provider, tokens)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SocialSignInError(
                "invalid_token", f"{provider.display_name} sent no ID token.", 502
            )
        claims = await self.validate_id_token(provider, id_token, nonce)
        email = claims.get("email")
        return ExternalIdentity(
            provider=provider.name,
            subject=str(claims["sub"]),
            email=email.strip().lower() if isinstance(email, str) and email.strip() else None,
            email_verified=claims.get("email_verified") in (True, "true"),
            name=_name(claims),
        )

    async def exchange_code(
        self, provider: SocialProvider, code: str, redirect_uri: str, verifier: str
    ) -> dict[str, Any]:
        """The provider's token response for an authorization code (RFC 6749 4.1.3, with
        the PKCE verifier), the client authenticated with its secret when it has one."""
        metadata: Mapping[str, Any] = {}
        if provider.kind == "oidc":
            metadata = await self.metadata(provider)
            endpoint = str(metadata["token_endpoint"])
        else:
            assert provider.token_endpoint is not None
            endpoint = provider.token_endpoint
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": provider.client_id,
        }
        headers = {"accept": "application/json"}
        secret = provider.secret()
        if secret:
            methods = metadata.get("token_endpoint_auth_methods_supported") or [
                "client_secret_basic"
            ]
            if provider.kind == "oidc" and "client_secret_basic" in methods:
                pair = f"{_form_quote(provider.client_id)}:{_form_quote(secret)}"
                headers["authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
            else:
                form["client_secret"] = secret
        body = await self._json(
            provider, self.http.build_request("POST", endpoint, data=form, headers=headers)
        )
        if not isinstance(body, dict) or "error" in body:
            detail = body.get("error") if isinstance(body, dict) else None
            raise SocialSignInError(
                "provider_error",
                f"{provider.display_name} refused the sign-in"
                + (f" ({str(detail)[:80]})." if detail else "."),
                502,
            )
        return body

    async def validate_id_token(
        self, provider: SocialProvider, id_token: str, nonce: str
    ) -> dict[str, Any]:
        """The ID token's claims once it is proven to be the provider's, for this client and
        this flow (OpenID Connect Core 1.0 section 3.1.3.7); ``SocialSignInError`` else."""
        metadata = await self.metadata(provider)
        announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = sorted(ASYMMETRIC_ALGORITHMS & set(announced))
        refused = SocialSignInError(
            "invalid_token", f"The sign-in from {provider.display_name} could not be verified."
        )
        if len(id_token) > 16 * 1024:
            raise refused
        keys = await self._key_set(provider)
        try:
            token = jwt.decode(id_token, keys, algorithms=algorithms)
        except (JoseError, ValueError) as exc:
            # a key the provider rotated in since we fetched its set: fetch the set again,
            # at most once a minute (refused tokens must not make us fetch it each time)
            if self._refetched.get(provider.name, -KEY_REFETCH_SECONDS) > (
                self.clock() - KEY_REFETCH_SECONDS
            ):
                raise refused from exc
            self._refetched[provider.name] = self.clock()
            keys = await self._key_set(provider, refresh=True)
            try:
                token = jwt.decode(id_token, keys, algorithms=algorithms)
            except (JoseError, ValueError):
                raise refused from exc
        return self.check_claims(provider, dict(token.claims), nonce)

    def check_claims(
        self, provider: SocialProvider, claims: dict[str, Any], nonce: str
    ) -> dict[str, Any]:
        """``claims`` (of a token whose signature is verified) when they are for this client
        and this flow, from this issuer and not expired; ``SocialSignInError`` else."""
        refused = SocialSignInError(
            "invalid_token", f"The sign-in from {provider.display_name} could not be verified."
        )
        registry = jwt.JWTClaimsRegistry(
            now=int(self.clock()),
            leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": provider.issuer or ""},
            sub={"essential": True},
            aud={"essential": True, "value": provider.client_id},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise SocialSignInError(
                "invalid_token",
                f"The sign-in from {provider.display_name} has expired; start again.",
            ) from exc
        except (MissingClaimError, JoseError) as exc:
            raise refused from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != provider.client_id:
            raise refused
        if "azp" in claims and claims["azp"] != provider.client_id:
            raise refused
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not _same(sent, nonce):
            raise SocialSignInError(
                "nonce_mismatch",
                f"The sign-in from {provider.display_name} was not the one this browser "
                "started; start again.",
            )
        if not isinstance(claims.get("sub"), str) or not 1 <= len(claims["sub"]) <= 255:
            raise refused
        return claims

    async def _github_identity(
        self, provider: SocialProvider, tokens: Mapping[str, Any]
    ) -> ExternalIdentity:
        assert provider.api_url is not None
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise SocialSignInError(
                "provider_error", f"{provider.display_name} sent no access token.", 502
            )
        headers = {
            "authorization": f"Bearer {access_token}",
            "accept": "application/vnd.github+json",
        }
        user = await self._json(
            provider, self.http.build_request("GET", f"{provider.api_url}/user", headers=headers)
        )
        emails = await self._json(
            provider,
            self.http.build_request("GET", f"{provider.api_url}/user/emails", headers=headers),
        )
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise SocialSignInError(
                "provider_error", f"{provider.display_name} did not say who signed in.", 502
            )
        primary = next(
            (
                entry
                for entry in (emails if isinstance(emails, list) else [])
                if isinstance(entry, dict) and entry.get("primary") and entry.get("email")
            ),
            None,
        )
        email = str(primary["email"]).strip().lower() if primary else None
        name = user.get("name") or user.get("login")
        return ExternalIdentity(
            provider=provider.name,
            subject=str(user["id"]),
            email=email,
            email_verified=bool(primary and primary.get("verified") is True),
            name=str(name)[:120] if name else None,
        )


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _form_quote(value: str) -> str:
    return quote(value, safe="")


def _name(claims: Mapping[str, Any]) -> str | None:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return name.strip()[:120] if name and name.strip() else None
