"""TV sign-in (RFC 8628) through GraphQL and the OAuth HTTP endpoints (authorization code
with PKCE S256, token endpoint with the three grants)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jose import jwt

from media_gateway.assembly.base import Subgraph
from media_gateway.subgraphs.identity.oauth import DEVICE_CODE_GRANT, OAuthService

from .conftest import Client, error_codes

START = """mutation($c: String!) { startDeviceAuthorization(clientId: $c) {
  deviceCode userCode verificationUri verificationUriComplete expiresIn interval } }"""
APPROVE = "mutation($u: String!) { approveDeviceAuthorization(userCode: $u) }"
DENY = "mutation($u: String!) { denyDeviceAuthorization(userCode: $u) }"
POLL = """mutation($d: String!) { pollDeviceAuthorization(deviceCode: $d) {
  accessToken refreshToken scopes user { id } } }"""
TV = "media-gateway-tv"


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


async def _oauth_service(identity: Subgraph) -> OAuthService:
    context = await identity.context({})
    oauth: OAuthService = context.oauth
    return oauth


async def _start(graph: Client) -> dict[str, Any]:
    body = await graph(START, {"c": TV})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["startDeviceAuthorization"]
    return result


async def test_tv_sign_in_end_to_end_and_tokens_once(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    oauth = await _oauth_service(identity)
    clock = FakeClock()
    oauth.clock = clock
    grant = await _start(graph)
    assert len(grant["userCode"]) == 9 and grant["userCode"][4] == "-"
    assert grant["interval"] >= 5 and grant["expiresIn"] > 60
    assert parse_qs(urlsplit(grant["verificationUriComplete"]).query)["user_code"] == [
        grant["userCode"]
    ]
    pending = await graph(POLL, {"d": grant["deviceCode"]})
    assert error_codes(pending) == ["authorization_pending"]
    # polled faster than the interval
    too_fast = await graph(POLL, {"d": grant["deviceCode"]})
    assert error_codes(too_fast) == ["slow_down"]
    assert too_fast["errors"][0]["extensions"]["interval"] == grant["interval"] + 5
    approved = await graph(APPROVE, {"u": grant["userCode"].lower()}, token=account["token"])
    assert approved["data"]["approveDeviceAuthorization"] is True
    # approved twice
    twice = await graph(APPROVE, {"u": grant["userCode"]}, token=account["token"])
    assert error_codes(twice) == ["ALREADY_USED"]
    clock.now += grant["interval"] + 5
    tokens = (await graph(POLL, {"d": grant["deviceCode"]}))["data"]["pollDeviceAuthorization"]
    assert tokens["user"]["id"] == account["id"]
    claims = jwt.get_unverified_claims(tokens["accessToken"])
    assert claims["client_id"] == TV and "identity:admin" not in tokens["scopes"]
    me = await graph("{ me { id } }", token=tokens["accessToken"])
    assert me["data"]["me"]["id"] == account["id"]
    # tokens once
    clock.now += 60
    assert error_codes(await graph(POLL, {"d": grant["deviceCode"]})) == ["expired_token"]


async def test_device_code_used_after_expiry(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    oauth = await _oauth_service(identity)
    clock = FakeClock()
    oauth.clock = clock
    grant = await _start(graph)
    clock.now += grant["expiresIn"] + 1
    late = await graph(APPROVE, {"u": grant["userCode"]}, token=account["token"])
    assert error_codes(late) == ["expired_token"]
    assert error_codes(await graph(POLL, {"d": grant["deviceCode"]})) == ["expired_token"]
    unknown = await graph(POLL, {"d": "not-a-device-code"})
    assert error_codes(unknown) == ["expired_token"]


async def test_denied_device_gets_access_denied(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    grant = await _start(graph)
    assert (await graph(DENY, {"u": grant["userCode"]}, token=account["token"]))["data"]
    assert error_codes(await graph(POLL, {"d": grant["deviceCode"]})) == ["access_denied"]


async def test_device_approval_needs_a_member_session(graph: Client) -> None:
    grant = await _start(graph)
    assert error_codes(await graph(APPROVE, {"u": grant["userCode"]})) == ["UNAUTHENTICATED"]
    unknown_client = await graph(START, {"c": "nobody-knows-me"})
    assert error_codes(unknown_client) == ["invalid_client"]


# -- HTTP endpoints ----------------------------------------------------------------------
def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


REGISTER_CLIENT = """mutation($n: String!, $r: [String!]!) {
  registerOauthClient(name: $n, redirectUris: $r) { clientId redirectUris } }"""
REDIRECT = "https://app.example.com/callback"


async def _client(graph: Client, token: str) -> str:
    body = await graph(REGISTER_CLIENT, {"n": "Example App", "r": [REDIRECT]}, token=token)
    assert "errors" not in body, body
    return str(body["data"]["registerOauthClient"]["clientId"])


async def _authorize(
    graph: Client, token: str, client_id: str, challenge: str, **extra: str
) -> Any:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
        **extra,
    }
    return await graph.http.get(
        "/oauth/authorize", params=params, headers={"authorization": f"Bearer {token}"}
    )


async def test_authorization_code_with_pkce(graph: Client, account: dict[str, Any]) -> None:
    client_id = await _client(graph, account["token"])
    verifier, challenge = _pkce()
    response = await _authorize(graph, account["token"], client_id, challenge)
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert query["state"] == ["xyz"]
    code = query["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    token = await graph.http.post("/oauth/token", data=form)
    assert token.status_code == 200, token.text
    assert token.headers["cache-control"] == "no-store"
    tokens = token.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    me = await graph("{ me { id } }", token=tokens["access_token"])
    assert me["data"]["me"]["id"] == account["id"]
    # the code is spent
    again = await graph.http.post("/oauth/token", data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # refresh_token grant rotates
    refreshed = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert (
        refreshed.status_code == 200
        and refreshed.json()["refresh_token"] != tokens["refresh_token"]
    )


async def test_pkce_verifier_mismatch_and_plain_are_refused(
    graph: Client, account: dict[str, Any]
) -> None:
    client_id = await _client(graph, account["token"])
    _, challenge = _pkce()
    response = await _authorize(graph, account["token"], client_id, challenge)
    code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
    other_verifier, _ = _pkce()
    mismatch = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_verifier": other_verifier,
        },
    )
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_grant"
    plain = await _authorize(
        graph, account["token"], client_id, "a" * 43, code_challenge_method="plain"
    )
    assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == ["invalid_request"]
    # an unregistered redirect URI is never redirected to
    wrong_uri = await _authorize(
        graph, account["token"], client_id, challenge, redirect_uri="https://evil.example"
    )
    assert wrong_uri.status_code == 400 and "location" not in wrong_uri.headers
    # no session, no code
    anonymous = await graph.http.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert anonymous.status_code == 303 and "code=" not in anonymous.headers["location"]
    login = urlsplit(anonymous.headers["location"])
    assert login.path == "/login"
    assert parse_qs(login.query)["next"][0].startswith("/oauth/authorize?")


async def test_device_flow_over_the_http_endpoints(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    oauth = await _oauth_service(identity)
    clock = FakeClock()
    oauth.clock = clock
    started = await graph.http.post(
        "/oauth/device_authorization", data={"client_id": TV, "scope": "catalog:read"}
    )
    assert started.status_code == 200, started.text
    grant = started.json()
    form = {"grant_type": DEVICE_CODE_GRANT, "device_code": grant["device_code"], "client_id": TV}
    pending = await graph.http.post("/oauth/token", data=form)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    fast = await graph.http.post("/oauth/token", data=form)
    assert fast.json()["error"] == "slow_down"
    await graph(APPROVE, {"u": grant["user_code"]}, token=account["token"])
    clock.now += 30
    tokens = await graph.http.post("/oauth/token", data=form)
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["scope"] == "catalog:read"
    # a catalog-only token cannot read the account
    me = await graph("{ me { id } }", token=tokens.json()["access_token"])
    assert error_codes(me) == ["FORBIDDEN"]
    unsupported = await graph.http.post("/oauth/token", data={"grant_type": "password"})
    assert unsupported.json()["error"] == "unsupported_grant_type"
