"""Fixtures: the platform behind the gateway (SQLite; PostgreSQL and Redis when configured)
and one caller of each kind: a member's full session, a read-only API key, a third-party
app's token with read scopes, a kids profile and an anonymous caller."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

try:
    from tests.subgraphs.identity.conftest import (
        PASSWORD,
        Client,
        error_codes,
        gateway,
        identity_app,
        login,
        member,
        platform,
        settings,
        supergraph_sdl,
    )
except ImportError:  # pragma: no cover
    from subgraphs.identity.conftest import (  # type: ignore[no-redef,unused-ignore]
        PASSWORD,
        Client,
        error_codes,
        gateway,
        identity_app,
        login,
        member,
        platform,
        settings,
        supergraph_sdl,
    )

__all__ = [
    "PASSWORD",
    "Caller",
    "Client",
    "error_codes",
    "gateway",
    "identity_app",
    "login",
    "member",
    "platform",
    "settings",
    "supergraph_sdl",
]

READ_SCOPES = [
    "catalog:read",
    "identity:read",
    "playback:read",
    "recommendations:read",
    "sync:read",
]
# what the third-party app asks for: some read scopes, none to write
OAUTH_SCOPES = "identity:read catalog:read sync:read"
REDIRECT = "https://app.example.com/callback"


@dataclass
class Caller:
    name: str
    headers: dict[str, str] = field(default_factory=dict)
    scopes: frozenset[str] = frozenset()


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def api_key(gateway: Client, token: str, scopes: list[str]) -> str:
    body = await gateway(
        """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }""",
        {"i": {"name": f"key-{uuid.uuid4().hex[:6]}", "scopes": scopes}},
        token=token,
    )
    assert "errors" not in body, body
    return str(body["data"]["createApiKey"]["secret"])


async def profile_token(gateway: Client, token: str, **fields: Any) -> tuple[str, str]:
    """Create a viewing profile and switch to it: (profile id, its access token)."""
    created = await gateway(
        "mutation($i: CreateProfileInput!) { createProfile(input: $i) { id } }",
        {"i": fields},
        token=token,
    )
    assert "errors" not in created, created
    profile_id = str(created["data"]["createProfile"]["id"])
    switched = await gateway(
        "mutation($p: ID!) { switchProfile(profileId: $p) { accessToken } }",
        {"p": profile_id},
        token=token,
    )
    assert "errors" not in switched, switched
    return profile_id, str(switched["data"]["switchProfile"]["accessToken"])


async def oauth_token(gateway: Client, identity_app: Client, token: str, scope: str) -> str:
    """A third-party app's access token (authorization code with PKCE) for ``scope``."""
    registered = await gateway(
        """mutation($n: String!, $r: [String!]!) {
          registerOauthClient(name: $n, redirectUris: $r) { clientId } }""",
        {"n": "Example App", "r": [REDIRECT]},
        token=token,
    )
    assert "errors" not in registered, registered
    client_id = registered["data"]["registerOauthClient"]["clientId"]
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    response = await identity_app.http.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "scope": scope,
        },
        headers=bearer(token),
    )
    assert response.status_code == 302, response.text
    code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
    exchanged = await identity_app.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    return str(exchanged.json()["access_token"])


@pytest.fixture
async def callers(
    gateway: Client, identity_app: Client, member: dict[str, Any]
) -> dict[str, Caller]:
    """The five kinds of caller the scope policy is declared for, all of one account."""
    from media_gateway.auth.scopes import SESSION_SCOPES

    token = member["token"]
    key = await api_key(gateway, token, READ_SCOPES)
    app_token = await oauth_token(gateway, identity_app, token, OAUTH_SCOPES)
    _, kids_token = await profile_token(gateway, token, name="Kids", kids=True)
    return {
        "session": Caller("session", bearer(token), SESSION_SCOPES),
        "api_key": Caller("api_key", {"x-api-key": key}, frozenset(READ_SCOPES)),
        "oauth": Caller("oauth", bearer(app_token), frozenset(OAUTH_SCOPES.split())),
        "kids": Caller("kids", bearer(kids_token), SESSION_SCOPES),
        "anonymous": Caller("anonymous"),
    }
