"""Access tokens through the gateway: every forged or stale token is refused, keys rotate
without signing anyone out, refresh tokens are single use with theft detection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from media_gateway.app import Platform
from media_gateway.auth.tokens import token_service

from .conftest import Client, error_codes, login

ME = "{ me { id displayName } }"
REFRESH = """mutation($t: String!) {
  refreshSession(refreshToken: $t) { accessToken refreshToken } }"""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.get_unverified_claims(token))


def _sign(platform: Platform, claims: dict[str, Any]) -> str:
    key = token_service(platform.runtime.settings).keys.ensure_signing_key()
    assert key.private_pem is not None
    return str(
        jwt.encode(claims, key.private_pem.decode(), algorithm="RS256", headers={"kid": key.kid})
    )


async def _refused(gateway: Client, token: str) -> None:
    body = await gateway(ME, token=token)
    assert error_codes(body) == ["UNAUTHENTICATED"], body
    assert body["data"] in (None, {"me": None})


async def test_valid_token_carries_claims_through_the_gateway(gateway: Client) -> None:
    session = await login(gateway)
    body = await gateway(ME, token=session["accessToken"])
    assert body["data"]["me"]["displayName"] == "Demo Viewer"
    claims = _claims(session["accessToken"])
    assert {"iss", "aud", "exp", "nbf", "iat", "sub", "jti"} <= set(claims)
    assert "identity:read" in claims["scope"].split()
    assert jwt.get_unverified_header(session["accessToken"])["alg"] == "RS256"


async def test_forged_signature_is_refused(gateway: Client) -> None:
    token = (await login(gateway))["accessToken"]
    kid = jwt.get_unverified_header(token)["kid"]
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = attacker.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    forged = jwt.encode(
        {**_claims(token), "sub": "someone-else"}, pem, algorithm="RS256", headers={"kid": kid}
    )
    await _refused(gateway, forged)
    # a valid signature over another payload
    head, _, signature = token.split(".")
    payload = _b64(json.dumps({**_claims(token), "sub": "someone-else"}).encode())
    await _refused(gateway, f"{head}.{payload}.{signature}")


async def test_alg_none_is_refused(gateway: Client) -> None:
    token = (await login(gateway))["accessToken"]
    kid = jwt.get_unverified_header(token)["kid"]
    for alg in ("none", "None", "NONE"):
        head = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
        body = _b64(json.dumps(_claims(token)).encode())
        await _refused(gateway, f"{head}.{body}.")


async def test_hs256_signed_with_the_public_key_is_refused(
    platform: Platform, gateway: Client, identity_app: Client
) -> None:
    token = (await login(gateway))["accessToken"]
    kid = jwt.get_unverified_header(token)["kid"]
    key = token_service(platform.runtime.settings).keys.ensure_signing_key()
    assert key.private_pem is not None
    public_pem = (
        serialization.load_pem_private_key(key.private_pem, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # the classic confusion: an HMAC "secret" that is the published public key
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps({**_claims(token), "sub": "someone-else"}).encode())
    signature = _b64(hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    await _refused(gateway, f"{head}.{body}.{signature}")
    # the same with the JWKS entry as published
    jwks = (await identity_app.http.get("/.well-known/jwks.json")).json()
    published = json.dumps(jwks["keys"][0]).encode()
    signature = _b64(hmac.new(published, f"{head}.{body}".encode(), hashlib.sha256).digest())
    await _refused(gateway, f"{head}.{body}.{signature}")


async def test_expired_premature_foreign_tokens_are_refused(
    platform: Platform, gateway: Client
) -> None:
    claims = _claims((await login(gateway))["accessToken"])
    now = int(time.time())
    await _refused(gateway, _sign(platform, {**claims, "exp": now - 60, "iat": now - 1000}))
    await _refused(gateway, _sign(platform, {**claims, "nbf": now + 600}))
    await _refused(gateway, _sign(platform, {**claims, "aud": "another-service"}))
    await _refused(gateway, _sign(platform, {**claims, "iss": "someone-else"}))
    without_exp = {k: v for k, v in claims.items() if k != "exp"}
    await _refused(gateway, _sign(platform, without_exp))
    without_aud = {k: v for k, v in claims.items() if k != "aud"}
    await _refused(gateway, _sign(platform, without_aud))
    # unknown key id
    key = token_service(platform.runtime.settings).keys.ensure_signing_key()
    assert key.private_pem is not None
    unknown_kid = jwt.encode(
        claims, key.private_pem.decode(), algorithm="RS256", headers={"kid": "not-a-key"}
    )
    await _refused(gateway, unknown_kid)


async def test_a_token_accepted_before_is_refused_once_it_expires(
    platform: Platform, gateway: Client, monkeypatch: Any
) -> None:
    claims = _claims((await login(gateway))["accessToken"])
    now = int(time.time())
    token = _sign(platform, {**claims, "iat": now, "nbf": now, "exp": now + 60})
    for _ in range(2):  # verified once, then remembered
        body = await gateway(ME, token=token)
        assert "errors" not in body, body
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    await _refused(gateway, token)


async def test_key_rotation_keeps_sessions_and_publishes_both_keys(
    platform: Platform, gateway: Client, identity_app: Client
) -> None:
    old = (await login(gateway))["accessToken"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    new_key = token_service(platform.runtime.settings).keys.rotate()
    assert new_key.kid != old_kid
    # the token signed before the rotation still works
    assert (await gateway(ME, token=old))["data"]["me"]["displayName"] == "Demo Viewer"
    new = (await login(gateway))["accessToken"]
    assert jwt.get_unverified_header(new)["kid"] == new_key.kid
    assert (await gateway(ME, token=new))["data"]["me"]["displayName"] == "Demo Viewer"
    kids = {
        key["kid"] for key in (await identity_app.http.get("/.well-known/jwks.json")).json()["keys"]
    }
    assert {old_kid, new_key.kid} <= kids


async def test_replayed_refresh_token_revokes_the_family(gateway: Client) -> None:
    first = await login(gateway)
    second = (await gateway(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshSession"]
    assert second["refreshToken"] != first["refreshToken"]
    replay = await gateway(REFRESH, {"t": first["refreshToken"]})
    assert error_codes(replay) == ["REFRESH_TOKEN_REUSED"]
    assert "signed out" in replay["errors"][0]["message"]
    # the thief's (or the victim's) newest token is dead too
    assert error_codes(await gateway(REFRESH, {"t": second["refreshToken"]})) == ["UNAUTHENTICATED"]
