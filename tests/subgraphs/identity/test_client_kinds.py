"""OAuth clients are of three kinds: a confidential client (a server) gets a secret and must
present it at the token endpoint; a public client (browser, mobile) proves itself with PKCE
alone; a device client (TV, console) has no redirect URI and signs in with a code. The
built-in TV client needs no registration."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .conftest import Client, error_codes

REDIRECT = "https://app.example/callback"
REGISTER = """mutation($n: String!, $r: [String!], $k: OAuthClientKind!) {
  registerOauthClient(name: $n, redirectUris: $r, kind: $k) {
    clientId name kind redirectUris clientSecret } }"""


async def _register(graph: Client, token: str, kind: str, uris: list[str] | None) -> dict[str, Any]:
    return await graph(REGISTER, {"n": f"A {kind.lower()} app", "r": uris, "k": kind}, token=token)


async def _code(graph: Client, token: str, client_id: str) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    response = await graph.http.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        },
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["code"][0], verifier


async def test_each_kind_is_validated_with_a_clear_error(
    graph: Client, account: dict[str, Any]
) -> None:
    token = account["token"]
    device_with_uris = await _register(graph, token, "DEVICE", [REDIRECT])
    assert error_codes(device_with_uris) == ["BAD_USER_INPUT"]
    assert "A device client has no redirect URIs" in device_with_uris["errors"][0]["message"]
    for kind in ("PUBLIC", "CONFIDENTIAL"):
        without = await _register(graph, token, kind, None)
        assert error_codes(without) == ["BAD_USER_INPUT"]
        message = without["errors"][0]["message"]
        assert f"A {kind.lower()} client needs 1 to 10 redirect URIs" in message
        assert without["errors"][0]["extensions"]["field"] == "redirectUris"

    device = (await _register(graph, token, "DEVICE", None))["data"]["registerOauthClient"]
    assert device["kind"] == "DEVICE" and device["redirectUris"] == []
    assert device["clientSecret"] is None
    public = (await _register(graph, token, "PUBLIC", [REDIRECT]))["data"]["registerOauthClient"]
    assert public["kind"] == "PUBLIC" and public["clientSecret"] is None
    confidential = (await _register(graph, token, "CONFIDENTIAL", [REDIRECT]))["data"][
        "registerOauthClient"
    ]
    assert confidential["kind"] == "CONFIDENTIAL" and len(confidential["clientSecret"]) >= 32


async def test_a_registered_device_client_signs_in_a_device(
    graph: Client, account: dict[str, Any]
) -> None:
    device = (await _register(graph, account["token"], "DEVICE", []))["data"]["registerOauthClient"]
    started = await graph.http.post(
        "/oauth/device_authorization", data={"client_id": device["clientId"]}
    )
    assert started.status_code == 200, started.text
    assert started.json()["verification_uri"].endswith("/activate")
    # but it has no redirect URI to send a code to
    refused = await graph.http.get(
        "/oauth/authorize",
        params={"response_type": "code", "client_id": device["clientId"], "redirect_uri": REDIRECT},
    )
    assert refused.status_code == 400 and "location" not in refused.headers


async def test_the_built_in_tv_client_needs_no_registration(graph: Client) -> None:
    started = await graph.http.post(
        "/oauth/device_authorization", data={"client_id": "media-gateway-tv"}
    )
    assert started.status_code == 200, started.text
    unknown = await graph.http.post(
        "/oauth/device_authorization", data={"client_id": "media-gateway-toaster"}
    )
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"


async def test_a_confidential_client_authenticates_at_the_token_endpoint(
    graph: Client, account: dict[str, Any]
) -> None:
    token = account["token"]
    app = (await _register(graph, token, "CONFIDENTIAL", [REDIRECT]))["data"]["registerOauthClient"]
    client_id, secret = app["clientId"], app["clientSecret"]

    def exchange(code: str, verifier: str, **extra: str) -> dict[str, str]:
        return {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **extra,
        }

    code, verifier = await _code(graph, token, client_id)
    no_secret = await graph.http.post("/oauth/token", data=exchange(code, verifier))
    assert no_secret.status_code == 401 and no_secret.json()["error"] == "invalid_client"
    wrong = await graph.http.post(
        "/oauth/token", data=exchange(code, verifier, client_secret="not-the-secret")
    )
    assert wrong.status_code == 401
    # client_secret_post
    posted = await graph.http.post(
        "/oauth/token", data=exchange(code, verifier, client_secret=secret)
    )
    assert posted.status_code == 200, posted.text
    # client_secret_basic
    code, verifier = await _code(graph, token, client_id)
    form = exchange(code, verifier)
    del form["client_id"]
    basic = await graph.http.post("/oauth/token", data=form, auth=(client_id, secret))
    assert basic.status_code == 200, basic.text
    # a confidential client does not start device sign-ins
    device = await graph.http.post("/oauth/device_authorization", data={"client_id": client_id})
    assert device.json()["error"] == "unauthorized_client"


async def test_a_public_client_presents_no_secret(graph: Client, account: dict[str, Any]) -> None:
    token = account["token"]
    app = (await _register(graph, token, "PUBLIC", [REDIRECT]))["data"]["registerOauthClient"]
    code, verifier = await _code(graph, token, app["clientId"])
    answer = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app["clientId"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_secret": "invented",
        },
    )
    assert answer.status_code == 401 and "has no secret" in answer.json()["error_description"]
