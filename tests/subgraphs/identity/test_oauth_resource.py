"""The identity service as the authorization server of MCP clients: its metadata (RFC 8414),
dynamic client registration (RFC 7591), resource indicators binding the tokens' audience
(RFC 8707), PKCE S256 required, no implicit grant, exact redirect URIs."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jose import jwt

from media_gateway.assembly.base import Subgraph
from media_gateway.platform.settings import Settings
from media_gateway.subgraphs.identity.oauth import DEVICE_CODE_GRANT, OAuthService

from .conftest import Client

REDIRECT = "http://127.0.0.1:33418/callback"
APPROVE = "mutation($u: String!) { approveDeviceAuthorization(userCode: $u) }"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def _resource(settings: Settings) -> str:
    return settings.oauth_resource_urls[0]


async def _register(graph: Client, **metadata: Any) -> Any:
    body = {"redirect_uris": [REDIRECT], "client_name": "Agent", **metadata}
    return await graph.http.post("/oauth/register", json=body)


async def _client_id(graph: Client) -> str:
    registered = await _register(graph)
    assert registered.status_code == 201, registered.text
    return str(registered.json()["client_id"])


async def _authorize(
    graph: Client, token: str, client_id: str, challenge: str, **extra: Any
) -> Any:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s1",
        **extra,
    }
    return await graph.http.get(
        "/oauth/authorize", params=params, headers={"authorization": f"Bearer {token}"}
    )


def _redirect_params(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)


async def _exchange(graph: Client, client_id: str, code: str, verifier: str, **extra: Any) -> Any:
    return await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            **extra,
        },
    )


async def test_authorization_server_metadata(graph: Client, settings: Settings) -> None:
    response = await graph.http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    issuer = settings.oauth_issuer_url
    assert metadata["issuer"] == issuer
    assert metadata["authorization_endpoint"] == f"{issuer}/oauth/authorize"
    assert metadata["token_endpoint"] == f"{issuer}/oauth/token"
    assert metadata["registration_endpoint"] == f"{issuer}/oauth/register"
    assert metadata["device_authorization_endpoint"] == f"{issuer}/oauth/device_authorization"
    assert metadata["jwks_uri"] == f"{issuer}/.well-known/jwks.json"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["response_types_supported"] == ["code"]  # no implicit grant
    assert "implicit" not in metadata["grant_types_supported"]
    assert "password" not in metadata["grant_types_supported"]
    assert set(metadata["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        DEVICE_CODE_GRANT,
    }
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "none",
        "client_secret_basic",
        "client_secret_post",
    ]
    assert "catalog:read" in metadata["scopes_supported"]
    assert "identity:admin" not in metadata["scopes_supported"]  # never delegated
    # the OpenID-style discovery path serves the same document
    openid = await graph.http.get("/.well-known/openid-configuration")
    assert openid.status_code == 200 and openid.json() == metadata


async def test_dynamic_registration_of_a_public_client(graph: Client) -> None:
    registered = await _register(
        graph,
        grant_types=["authorization_code", "refresh_token"],
        token_endpoint_auth_method="client_secret_basic",
        scope="catalog:read sync:read",
    )
    assert registered.status_code == 201, registered.text
    assert registered.headers["cache-control"] == "no-store"
    info = registered.json()
    assert info["client_id"].startswith("app-")
    assert info["redirect_uris"] == [REDIRECT]
    assert info["client_name"] == "Agent"
    # a public client whatever it asked for: no secret is ever issued
    assert info["token_endpoint_auth_method"] == "none" and "client_secret" not in info
    assert info["response_types"] == ["code"]
    assert info["scope"] == "catalog:read sync:read"


async def test_dynamic_registration_refuses_what_is_not_supported(graph: Client) -> None:
    async def error(**metadata: Any) -> str:
        response = await _register(graph, **metadata)
        assert response.status_code == 400, response.text
        return str(response.json()["error"])

    assert await error(response_types=["token"]) == "invalid_client_metadata"  # implicit
    assert await error(grant_types=["implicit"]) == "invalid_client_metadata"
    assert await error(grant_types=["password"]) == "invalid_client_metadata"
    assert await error(grant_types=["client_credentials"]) == "invalid_client_metadata"
    assert await error(scope="identity:admin") == "invalid_client_metadata"
    assert await error(scope="no-such-scope") == "invalid_client_metadata"
    assert await error(redirect_uris=[]) == "invalid_redirect_uri"
    assert await error(redirect_uris=["http://app.example.com/cb"]) == "invalid_redirect_uri"
    assert await error(redirect_uris=["https://app.example.com/cb#x"]) == "invalid_redirect_uri"
    assert await error(redirect_uris="https://app.example.com/cb") == "invalid_redirect_uri"
    not_json = await graph.http.post(
        "/oauth/register", content=b"{", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["error"] == "invalid_client_metadata"
    form = await graph.http.post("/oauth/register", data={"redirect_uris": REDIRECT})
    assert form.status_code == 400


async def test_resource_binds_the_audience_across_refreshes(
    graph: Client, account: dict[str, Any], settings: Settings
) -> None:
    resource = _resource(settings)
    client_id = await _client_id(graph)
    verifier, challenge = _pkce()
    authorized = await _authorize(graph, account["token"], client_id, challenge, resource=resource)
    code = _redirect_params(authorized)["code"][0]
    exchanged = await _exchange(graph, client_id, code, verifier, resource=resource)
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    claims = jwt.get_unverified_claims(tokens["access_token"])
    assert claims["aud"] == [resource, settings.jwt_audience]
    assert claims["client_id"] == client_id
    # the API behind the resource accepts the token as any other
    me = await graph("{ me { id } }", token=tokens["access_token"])
    assert me["data"]["me"]["id"] == account["id"]
    # a refresh keeps the binding (with or without naming the resource again)
    refreshed = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
            "resource": resource,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    again = jwt.get_unverified_claims(refreshed.json()["access_token"])
    assert again["aud"] == [resource, settings.jwt_audience]
    plain_refresh = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refreshed.json()["refresh_token"],
            "client_id": client_id,
        },
    )
    assert plain_refresh.status_code == 200, plain_refresh.text
    kept = jwt.get_unverified_claims(plain_refresh.json()["access_token"])
    assert kept["aud"] == [resource, settings.jwt_audience]


async def test_resource_indicators_refused(
    graph: Client, account: dict[str, Any], settings: Settings
) -> None:
    resource = _resource(settings)
    client_id = await _client_id(graph)
    verifier, challenge = _pkce()
    # a resource this server issues no tokens for: an error back at the client
    unknown = await _authorize(
        graph, account["token"], client_id, challenge, resource="https://elsewhere.example/mcp"
    )
    assert _redirect_params(unknown)["error"] == ["invalid_target"]
    # a grant without a resource cannot be widened to one at the token endpoint
    plain = await _authorize(graph, account["token"], client_id, challenge)
    code = _redirect_params(plain)["code"][0]
    widened = await _exchange(graph, client_id, code, verifier, resource=resource)
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_target"
    # nor can a refresh of a session without a resource
    verifier, challenge = _pkce()
    plain = await _authorize(graph, account["token"], client_id, challenge)
    code = _redirect_params(plain)["code"][0]
    exchanged = await _exchange(graph, client_id, code, verifier)
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert jwt.get_unverified_claims(tokens["access_token"])["aud"] == settings.jwt_audience
    refresh = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
            "resource": resource,
        },
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_target"
    # the refused refresh did not spend the token
    ok = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": client_id,
        },
    )
    assert ok.status_code == 200, ok.text


async def test_pkce_s256_is_required_and_redirects_match_exactly(
    graph: Client, account: dict[str, Any]
) -> None:
    client_id = await _client_id(graph)
    verifier, challenge = _pkce()
    token = account["token"]
    without = await graph.http.get(
        "/oauth/authorize",
        params={"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT},
        headers={"authorization": f"Bearer {token}"},
    )
    assert _redirect_params(without)["error"] == ["invalid_request"]
    plain = await _authorize(graph, token, client_id, verifier, code_challenge_method="plain")
    assert _redirect_params(plain)["error"] == ["invalid_request"]
    implicit = await _authorize(graph, token, client_id, challenge, response_type="token")
    assert _redirect_params(implicit)["error"] == ["unsupported_response_type"]
    for near_miss in (REDIRECT + "/", REDIRECT + "?x=1", REDIRECT.replace("33418", "33419")):
        refused = await _authorize(graph, token, client_id, challenge, redirect_uri=near_miss)
        assert refused.status_code == 400 and "location" not in refused.headers
    code = _redirect_params(await _authorize(graph, token, client_id, challenge))["code"][0]
    no_verifier = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": client_id,
            "redirect_uri": REDIRECT,
        },
    )
    assert no_verifier.status_code == 400 and no_verifier.json()["error"] == "invalid_request"
    accepted = await _exchange(graph, client_id, code, verifier)
    assert accepted.status_code == 200, accepted.text


async def test_device_sign_in_for_a_resource(
    identity: Subgraph, graph: Client, account: dict[str, Any], settings: Settings
) -> None:
    context = await identity.context({})
    oauth: OAuthService = context.oauth
    now = [1_000_000.0]
    oauth.clock = lambda: now[0]
    resource = _resource(settings)
    started = await graph.http.post(
        "/oauth/device_authorization",
        data={"client_id": "media-gateway-cli", "scope": "catalog:read", "resource": resource},
    )
    assert started.status_code == 200, started.text
    grant = started.json()
    unknown = await graph.http.post(
        "/oauth/device_authorization",
        data={"client_id": "media-gateway-cli", "resource": "https://elsewhere.example/mcp"},
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_target"
    approved = await graph(APPROVE, {"u": grant["user_code"]}, token=account["token"])
    assert approved["data"]["approveDeviceAuthorization"] is True
    now[0] += 30
    tokens = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": grant["device_code"],
            "client_id": "media-gateway-cli",
        },
    )
    assert tokens.status_code == 200, tokens.text
    claims = jwt.get_unverified_claims(tokens.json()["access_token"])
    assert claims["aud"] == [resource, settings.jwt_audience]
    assert claims["scope"] == "catalog:read"


def test_metadata_of_an_issuer_with_a_path(settings: Settings) -> None:
    """An issuer below a path (``https://api.example.com/identity``) is described at the
    path-inserted well-known address (RFC 8414 3.1), with its endpoints under it."""
    from dataclasses import replace

    from media_gateway.subgraphs.identity.discovery import (
        authorization_server_metadata,
        metadata_paths,
    )

    issuer = "https://api.example.com/identity"
    moved = replace(settings, oauth_issuer=issuer)
    assert "/.well-known/oauth-authorization-server/identity" in metadata_paths(moved)
    assert "/.well-known/oauth-authorization-server" in metadata_paths(moved)
    metadata = authorization_server_metadata(moved)
    assert metadata["issuer"] == issuer
    assert metadata["token_endpoint"] == f"{issuer}/oauth/token"
    assert replace(settings, oauth_resources=("https://a.example/mcp",)).oauth_resource_urls == (
        "https://a.example/mcp",
    )
