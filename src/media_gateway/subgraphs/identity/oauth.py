"""OAuth 2.0 flows: the Device Authorization Grant (RFC 8628) for TVs and consoles, and the
authorization code grant with PKCE (RFC 7636, S256 only) for third-party apps. There is no
implicit grant, and a redirect URI must match a registered one exactly.

Resource indicators (RFC 8707): a ``resource`` named on the authorize, device or token
request (one of ``OAUTH_RESOURCES``, by default the gateway's MCP endpoint) binds the tokens'
audience to it, across refreshes. Public clients, such as MCP clients, may register
themselves (RFC 7591, ``register_public_client``).

Codes are short-lived entries of the ``CodeStore`` (Redis with expiry, or SQL), keyed by
their digests; every redemption is an atomic take, so a code yields tokens at most once.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from media_gateway.auth.scopes import DELEGABLE_SCOPES
from media_gateway.auth.tokens import Claims
from media_gateway.storage.types import new_id
from media_gateway.subgraphs.identity.codes import CodeStore, code_key
from media_gateway.subgraphs.identity.common import IdentityError, Limit
from media_gateway.subgraphs.identity.models import OAuthClientRecord
from media_gateway.subgraphs.identity.services import IdentityServices
from media_gateway.subgraphs.identity.sessions import Session

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# the kinds of client (RFC 6749 2.1): a confidential client (a server) holds a secret and
# authenticates at the token endpoint; a public client (a browser or mobile app) cannot keep
# one and proves itself with PKCE alone; a device client (a TV, a console, a command line)
# has no browser and no redirect URI: it signs in with the device authorization grant.
CONFIDENTIAL_CLIENT = "confidential"
PUBLIC_CLIENT = "public"
DEVICE_CLIENT = "device"
CLIENT_KINDS = (CONFIDENTIAL_CLIENT, PUBLIC_CLIENT, DEVICE_CLIENT)
# the built-in device clients: first-party apps that start a device sign-in without
# registering (the TV app is ``media-gateway-tv``)
FIRST_PARTY_DEVICE_CLIENTS: dict[str, str] = {
    "media-gateway-tv": "Media Gateway for TV",
    "media-gateway-console": "Media Gateway for consoles",
    "media-gateway-cli": "Media Gateway command line",
}
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels, no look-alikes (RFC 8628 6.1)
VERIFIER_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
CHALLENGE_PATTERN = re.compile(r"^[A-Za-z0-9\-_]{43}$")
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9\-_.]{3,100}$")
DEVICE_APPROVE_LIMIT = Limit(20, 300)
CLIENT_REGISTRATION_LIMIT = Limit(20, 3600)
# the grants a self-registered client may use: never the implicit grant nor a password grant
REGISTRABLE_GRANTS = frozenset({"authorization_code", "refresh_token", DEVICE_CODE_GRANT})


class OAuthError(Exception):
    """An RFC 6749 / 8628 error: ``error`` is the protocol code."""

    def __init__(self, error: str, description: str, status: int = 400, **extra: Any) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.extra = extra


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class AuthorizationRedirect(Exception):
    """An authorization request refused back to the app: ``location`` carries the error."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def _redirect(redirect_uri: str, state: str | None, **params: str | None) -> str:
    values = {k: v for k, v in {**params, "state": state}.items() if v is not None}
    separator = "&" if "?" in redirect_uri else "?"
    return f"{redirect_uri}{separator}{urlencode(values)}"


@dataclass(frozen=True)
class AuthorizationRequest:
    """An authorization request that passed its checks, waiting for the member's consent."""

    client: OAuthClient
    redirect_uri: str
    code_challenge: str
    scopes: frozenset[str]
    resources: tuple[str, ...]
    state: str | None


@dataclass(frozen=True)
class PendingDeviceAuthorization:
    """A device waiting for a member's decision: which app, the code it shows, and what it
    asks to do."""

    client: OAuthClient
    user_code: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    first_party: bool
    issued_at: int | None = None
    kind: str = PUBLIC_CLIENT
    # the SHA-256 of a confidential client's secret
    secret_hash: str | None = None
    # shown once, in the answer to its registration
    secret: str | None = None


def client_secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _canonical_resource(resource: str) -> str:
    return resource.strip().rstrip("/")


def normalize_user_code(code: str) -> str:
    return re.sub(r"[^A-Z]", "", code.upper())


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _valid_redirect_uri(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"}


class OAuthService:
    def __init__(self, identity: IdentityServices) -> None:
        self.identity = identity
        self.stores = identity.stores
        self.device_code_ttl = 600
        self.device_interval = 5
        self.authorization_code_ttl = 60
        self.clock: Callable[[], float] = time.time

    @property
    def codes(self) -> CodeStore:
        return self.stores.codes

    # -- clients -------------------------------------------------------------------------
    async def client(self, client_id: str) -> OAuthClient | None:
        if client_id in FIRST_PARTY_DEVICE_CLIENTS:
            return OAuthClient(
                client_id, FIRST_PARTY_DEVICE_CLIENTS[client_id], (), True, kind=DEVICE_CLIENT
            )
        if not CLIENT_ID_PATTERN.match(client_id):
            return None
        async with self.stores.database.session() as session:
            record = await session.get(OAuthClientRecord, client_id)
        if record is None:
            return None
        return OAuthClient(
            record.id,
            record.name,
            tuple(uri for uri in record.redirect_uris.split("\n") if uri),
            first_party=False,
            issued_at=int(record.created_at.timestamp()) if record.created_at else None,
            kind=record.kind,
            secret_hash=record.secret_hash,
        )

    async def register_client(
        self,
        owner_id: str,
        name: str,
        redirect_uris: Sequence[str],
        kind: str = PUBLIC_CLIENT,
    ) -> OAuthClient:
        """Register an app of a member's: a confidential or public client names 1 to 10
        exact redirect URIs (a confidential one gets a secret, shown once: ``secret``); a
        device client names none."""
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise IdentityError("Name the app (1 to 100 characters).", field="name")
        if kind not in CLIENT_KINDS:
            raise IdentityError(
                "The kind of client is confidential, public or device.", field="kind"
            )
        uris = [uri.strip() for uri in redirect_uris]
        if kind == DEVICE_CLIENT:
            if uris:
                raise IdentityError(
                    "A device client has no redirect URIs: it signs in with a code shown on "
                    "its screen (the device authorization grant). Leave redirectUris empty, "
                    "or register a public or confidential client.",
                    field="redirectUris",
                )
        elif not uris or len(uris) > 10 or not all(_valid_redirect_uri(u) for u in uris):
            raise IdentityError(
                f"A {kind} client needs 1 to 10 redirect URIs: https (or http on localhost), "
                "without fragment. A TV or console without a browser is a device client.",
                field="redirectUris",
            )
        secret = secrets.token_urlsafe(32) if kind == CONFIDENTIAL_CLIENT else None
        record = OAuthClientRecord(
            id="app-" + secrets.token_hex(12),
            name=name,
            owner_id=owner_id,
            redirect_uris="\n".join(uris),
            kind=kind,
            secret_hash=client_secret_hash(secret) if secret else None,
        )
        async with self.stores.database.transaction() as session:
            session.add(record)
        return OAuthClient(
            record.id, record.name, tuple(uris), first_party=False, kind=kind, secret=secret
        )

    async def authenticate_client(self, client_id: str, secret: str | None) -> OAuthClient | None:
        """At the token endpoint: a confidential client must present its secret; a public or
        device client has none to present. ``invalid_client`` otherwise."""
        client = await self.client(client_id)
        if client is None:
            raise OAuthError("invalid_client", "Unknown client.", 401)
        if client.kind == CONFIDENTIAL_CLIENT:
            if (
                not secret
                or not client.secret_hash
                or not secrets.compare_digest(client_secret_hash(secret), client.secret_hash)
            ):
                raise OAuthError(
                    "invalid_client",
                    "A confidential client authenticates with its secret "
                    "(client_secret_basic or client_secret_post).",
                    401,
                )
        elif secret:
            raise OAuthError(
                "invalid_client", f"A {client.kind} client has no secret; send none.", 401
            )
        return client

    async def register_public_client(
        self, metadata: Any, client_address: str | None = None
    ) -> dict[str, Any]:
        """Dynamic client registration (RFC 7591) of a public client (no secret; PKCE): the
        client information response. Such a client has no owning account; the member who
        signs in through it decides what it may do."""
        try:
            await self.stores.limit("oauth-register", client_address, CLIENT_REGISTRATION_LIMIT)
        except IdentityError as exc:
            raise OAuthError("slow_down", str(exc), 429, **exc.extensions) from exc
        if not isinstance(metadata, dict):
            raise OAuthError("invalid_client_metadata", "Send the client metadata as an object.")
        uris = metadata.get("redirect_uris")
        if (
            not isinstance(uris, list)
            or not uris
            or len(uris) > 10
            or not all(isinstance(u, str) and len(u) <= 2000 for u in uris)
            or not all(_valid_redirect_uri(u.strip()) for u in uris)
        ):
            raise OAuthError(
                "invalid_redirect_uri",
                "Give 1 to 10 redirect URIs: https (or http on localhost), without fragment.",
            )
        grants = metadata.get("grant_types", ["authorization_code"])
        if not isinstance(grants, list) or not set(grants) <= REGISTRABLE_GRANTS or not grants:
            raise OAuthError(
                "invalid_client_metadata",
                "Supported grant types: " + ", ".join(sorted(REGISTRABLE_GRANTS)) + ".",
            )
        response_types = metadata.get("response_types", ["code"])
        if not isinstance(response_types, list) or not set(response_types) <= {"code"}:
            # no implicit grant (response type "token"), nor any other
            raise OAuthError("invalid_client_metadata", "Only the code response type is supported.")
        scope = metadata.get("scope")
        if scope is not None and not isinstance(scope, str):
            raise OAuthError("invalid_client_metadata", "scope is a space-separated string.")
        try:
            scopes = self.grant_scopes(scope)
        except OAuthError as exc:
            raise OAuthError("invalid_client_metadata", exc.description) from exc
        name = metadata.get("client_name")
        name = name.strip()[:100] if isinstance(name, str) and name.strip() else "Unnamed app"
        record = OAuthClientRecord(
            id="app-" + secrets.token_hex(12),
            name=name,
            owner_id=None,
            redirect_uris="\n".join(u.strip() for u in uris),
        )
        async with self.stores.database.transaction() as session:
            session.add(record)
        return {
            "client_id": record.id,
            "client_id_issued_at": int(self.clock()),
            "client_name": name,
            "redirect_uris": [u.strip() for u in uris],
            "grant_types": grants,
            "response_types": ["code"] if "authorization_code" in grants else [],
            # a public client: no secret, whatever method was asked for (RFC 7591 3.2.1)
            "token_endpoint_auth_method": "none",
            "scope": " ".join(sorted(scopes)),
        }

    def resources(self, requested: Sequence[str]) -> tuple[str, ...]:
        """The resource indicators (RFC 8707) of a request, each one this server issues
        tokens for (``OAUTH_RESOURCES``), else ``invalid_target``."""
        known = {_canonical_resource(r): r for r in self.stores.settings.oauth_resource_urls}
        out: list[str] = []
        for resource in requested:
            found = known.get(_canonical_resource(resource))
            if found is None or urlsplit(resource).fragment:
                raise OAuthError("invalid_target", "Tokens cannot be issued for this resource.")
            if found not in out:
                out.append(found)
        return tuple(out)

    def narrowed(self, granted: Sequence[str], requested: Sequence[str]) -> tuple[str, ...]:
        """At the token endpoint: the resources asked for, among those the grant holds."""
        asked = self.resources(requested)
        if not set(asked) <= set(granted):
            raise OAuthError("invalid_target", "This grant does not cover that resource.")
        return asked or tuple(granted)

    @staticmethod
    def grant_scopes(requested: str | None) -> frozenset[str]:
        if requested is None or not requested.strip():
            return DELEGABLE_SCOPES
        wanted = frozenset(requested.split())
        if wanted - DELEGABLE_SCOPES:
            raise OAuthError("invalid_scope", "Unknown or not grantable scope requested.")
        return wanted

    # -- device authorization grant (RFC 8628) -------------------------------------------
    async def start_device_authorization(
        self,
        client_id: str,
        scope: str | None = None,
        client_address: str | None = None,
        resources: Sequence[str] = (),
    ) -> DeviceAuthorization:
        try:
            await self.stores.limit(
                "device-start", client_address, self.stores.limits.device_start_per_address
            )
        except IdentityError as exc:
            raise OAuthError("slow_down", str(exc), 429, **exc.extensions) from exc
        client = await self.client(client_id)
        if client is None:
            raise OAuthError("invalid_client", "Unknown client.", 401)
        if client.kind == CONFIDENTIAL_CLIENT:
            raise OAuthError(
                "unauthorized_client",
                "A confidential client signs members in with the authorization code flow; "
                "register a device client for a TV or console.",
            )
        scopes = self.grant_scopes(scope)
        bound = self.resources(resources)
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(8))
        expires_at = self.clock() + self.device_code_ttl
        device_key = code_key("device", device_code)
        keep = self.device_code_ttl + 300  # kept past expiry to answer expired_token
        await self.codes.put(
            device_key,
            {
                "client_id": client_id,
                "scopes": sorted(scopes),
                "expires_at": expires_at,
                "interval": self.device_interval,
                "user_code": user_code,
                "resources": list(bound),
            },
            keep,
        )
        await self.codes.put(
            code_key("device-user", user_code),
            {"device_key": device_key, "client_id": client_id, "expires_at": expires_at},
            keep,
        )
        base = f"{self.stores.settings.public_url}/activate"
        display = f"{user_code[:4]}-{user_code[4:]}"
        return DeviceAuthorization(
            device_code=device_code,
            user_code=display,
            verification_uri=base,
            verification_uri_complete=f"{base}?{urlencode({'user_code': display})}",
            expires_in=self.device_code_ttl,
            interval=self.device_interval,
        )

    async def pending_device_authorization(self, user_code: str) -> PendingDeviceAuthorization:
        """The device sign-in showing ``user_code``, before the member decides (what the
        activation page shows: RFC 8628 5.4, the member sees which app asks)."""
        code = normalize_user_code(user_code)
        pending = await self.codes.get(code_key("device-user", code)) if len(code) == 8 else None
        if pending is None:
            raise IdentityError("No sign-in is waiting for this code.", field="userCode")
        if pending.get("used"):
            raise IdentityError("This code was already used.", "ALREADY_USED", "userCode")
        if self.clock() >= float(pending["expires_at"]):
            raise IdentityError("This code has expired; start again.", "expired_token")
        device = await self.codes.get(str(pending["device_key"]))
        client = await self.client(str(pending["client_id"]))
        if device is None or client is None:
            raise IdentityError("No sign-in is waiting for this code.", field="userCode")
        return PendingDeviceAuthorization(
            client=client,
            user_code=f"{code[:4]}-{code[4:]}",
            scopes=tuple(sorted(device.get("scopes") or ())),
        )

    async def decide_device_authorization(
        self, viewer: Claims, user_code: str, *, approve: bool, profile_id: str | None = None
    ) -> OAuthClient:
        """The signed-in member approves (or denies) the device showing ``user_code``."""
        await self.stores.limit("device-approve", viewer.subject, DEVICE_APPROVE_LIMIT)
        code = normalize_user_code(user_code)
        user_key = code_key("device-user", code)
        pending = await self.codes.get(user_key) if len(code) == 8 else None
        if pending is None:
            raise IdentityError("No sign-in is waiting for this code.", field="userCode")
        if pending.get("used"):
            raise IdentityError("This code was already used.", "ALREADY_USED", "userCode")
        if self.clock() >= float(pending["expires_at"]):
            raise IdentityError("This code has expired; start again.", "expired_token")
        profile = None
        chosen = profile_id or viewer.profile_id
        if chosen:
            profile = await self.identity.profiles.profile_of(viewer.subject, chosen)
            if profile is None:
                raise IdentityError("No such profile.", "NOT_FOUND", "profileId")
        decision = {
            "approved": approve,
            "user_id": viewer.subject,
            "profile_id": profile.id if profile else None,
        }
        device_key = str(pending["device_key"])
        remaining = max(1.0, float(pending["expires_at"]) - self.clock() + 300)
        if not await self.codes.put_once(f"device-decision-{device_key}", decision, remaining):
            raise IdentityError("This code was already used.", "ALREADY_USED", "userCode")
        await self.codes.put(user_key, {**pending, "used": True}, remaining)
        client = await self.client(str(pending["client_id"]))
        assert client is not None
        return client

    async def poll_device_authorization(
        self,
        device_code: str,
        client_id: str | None = None,
        client_address: str | None = None,
        resources: Sequence[str] = (),
    ) -> Session:
        try:
            await self.stores.limit(
                "device-poll", client_address, self.stores.limits.device_poll_per_address
            )
        except IdentityError as exc:
            raise OAuthError("slow_down", str(exc), 400, **exc.extensions) from exc
        device_key = code_key("device", device_code)
        record = await self.codes.get(device_key)
        if record is None:
            raise OAuthError("expired_token", "This device code is unknown or has expired.")
        if client_id is not None and client_id != record["client_id"]:
            raise OAuthError("invalid_grant", "This device code belongs to another client.")
        bound = self.narrowed(record.get("resources") or (), resources)
        now = self.clock()
        if now >= float(record["expires_at"]):
            raise OAuthError("expired_token", "This device code has expired; start again.")
        interval = int(record["interval"])
        last_poll = record.get("last_poll")
        record["last_poll"] = now
        if last_poll is not None and now - float(last_poll) < interval:
            record["interval"] = interval + 5  # RFC 8628 3.5: slow down by 5 seconds
            await self.codes.put(device_key, record, float(record["expires_at"]) - now + 300)
            raise OAuthError(
                "slow_down",
                f"Polling too fast; wait {interval + 5} seconds between polls.",
                interval=interval + 5,
            )
        await self.codes.put(device_key, record, float(record["expires_at"]) - now + 300)
        decision = await self.codes.take(f"device-decision-{device_key}")
        if decision is None:
            raise OAuthError("authorization_pending", "Waiting for the member to approve.")
        await self.codes.delete(device_key)  # tokens once: the device code is spent
        if not decision["approved"]:
            raise OAuthError("access_denied", "The member refused this sign-in.")
        user = await self.identity.accounts.account(str(decision["user_id"]))
        profile = None
        if decision.get("profile_id"):
            profile = await self.identity.profiles.profile_of(user.id, str(decision["profile_id"]))
        return await self.identity.sessions.new_session(
            user,
            family_id=new_id(),
            profile=profile,
            scopes=frozenset(record["scopes"]),
            client_id=str(record["client_id"]),
            resources=bound,
        )

    # -- authorization code with PKCE ----------------------------------------------------
    async def authorization_request(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        response_type: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        scope: str | None,
        state: str | None,
        resources: Sequence[str] = (),
    ) -> AuthorizationRequest:
        """An authorization request checked before anyone is asked to consent.

        Raises ``OAuthError`` when no redirect is allowed (unknown client, or a redirect URI
        that is not exactly a registered one: RFC 9700 2.1), and ``AuthorizationRedirect``
        when the refusal goes back to the app (no implicit grant, PKCE S256 required, an
        unknown scope or resource)."""
        client = await self.client(client_id)
        if client is None or client.kind == DEVICE_CLIENT:
            raise OAuthError("invalid_client", "Unknown client.", 400)
        if redirect_uri not in client.redirect_uris:  # exact match only (RFC 9700 2.1)
            raise OAuthError("invalid_request", "This redirect URI is not registered.", 400)

        def refused(error: str, description: str | None = None) -> AuthorizationRedirect:
            return AuthorizationRedirect(
                _redirect(redirect_uri, state, error=error, error_description=description)
            )

        if response_type != "code":  # no implicit grant (RFC 9700 2.1.2)
            raise refused(
                "unsupported_response_type", "Only the authorization code flow is supported."
            )
        if code_challenge_method != "S256" or not code_challenge:
            raise refused("invalid_request", "PKCE with S256 is required.")
        if not CHALLENGE_PATTERN.match(code_challenge):
            raise refused("invalid_request", "Malformed code_challenge.")
        try:
            scopes = self.grant_scopes(scope)
            bound = self.resources(resources)
        except OAuthError as exc:
            raise refused(exc.error) from exc
        return AuthorizationRequest(
            client=client,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            scopes=scopes,
            resources=bound,
            state=state,
        )

    async def grant_authorization(self, viewer: Claims, request: AuthorizationRequest) -> str:
        """The member consented: the redirect back to the app with a one-time code."""
        if viewer.api_key_id is not None or viewer.raw.get("client_id"):
            raise OAuthError("access_denied", "Only a member's own session can authorize.", 403)
        code = secrets.token_urlsafe(32)
        await self.codes.put(
            code_key("authorization-code", code),
            {
                "client_id": request.client.client_id,
                "redirect_uri": request.redirect_uri,
                "challenge": request.code_challenge,
                "user_id": viewer.subject,
                "profile_id": viewer.profile_id,
                "scopes": sorted(request.scopes),
                "resources": list(request.resources),
            },
            self.authorization_code_ttl,
        )
        return _redirect(request.redirect_uri, request.state, code=code)

    @staticmethod
    def deny_authorization(request: AuthorizationRequest) -> str:
        """The member refused: the redirect back to the app with ``access_denied``."""
        return _redirect(
            request.redirect_uri,
            request.state,
            error="access_denied",
            error_description="The member refused.",
        )

    async def authorize(
        self,
        viewer: Claims | None,
        *,
        client_id: str,
        redirect_uri: str,
        response_type: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        scope: str | None,
        state: str | None,
        resources: Sequence[str] = (),
    ) -> str:
        """The redirect (with ``code`` or ``error``) for an authorization request presented
        with a member's own access token (no consent page: the bearer is the member).

        Raises ``OAuthError`` when no redirect is allowed (unknown client or redirect URI).
        """
        try:
            request = await self.authorization_request(
                client_id=client_id,
                redirect_uri=redirect_uri,
                response_type=response_type,
                code_challenge=code_challenge,
                code_challenge_method=code_challenge_method,
                scope=scope,
                state=state,
                resources=resources,
            )
        except AuthorizationRedirect as redirect:
            return redirect.location
        if viewer is None:
            raise OAuthError("login_required", "Sign in first.", 401)
        return await self.grant_authorization(viewer, request)

    async def exchange_authorization_code(
        self,
        code: str,
        client_id: str,
        redirect_uri: str,
        code_verifier: str,
        resources: Sequence[str] = (),
    ) -> Session:
        grant = await self.codes.take(code_key("authorization-code", code))
        if grant is None:
            raise OAuthError("invalid_grant", "The code is invalid, expired or already used.")
        if grant["client_id"] != client_id or grant["redirect_uri"] != redirect_uri:
            raise OAuthError("invalid_grant", "The code was issued to another client or URI.")
        if not VERIFIER_PATTERN.match(code_verifier) or not secrets.compare_digest(
            s256(code_verifier), str(grant["challenge"])
        ):
            raise OAuthError("invalid_grant", "The code verifier does not match (PKCE).")
        bound = self.narrowed(grant.get("resources") or (), resources)
        user = await self.identity.accounts.account(str(grant["user_id"]))
        profile = None
        if grant.get("profile_id"):
            profile = await self.identity.profiles.profile_of(user.id, str(grant["profile_id"]))
        return await self.identity.sessions.new_session(
            user,
            family_id=new_id(),
            profile=profile,
            scopes=frozenset(grant["scopes"]),
            client_id=client_id,
            resources=bound,
        )
