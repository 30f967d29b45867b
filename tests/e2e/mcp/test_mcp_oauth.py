"""Signing in to the gateway's MCP endpoint: the MCP Python SDK's own OAuth client
(`OAuthClientProvider`) discovers the identity service from the endpoint's protected resource
metadata, registers itself, completes the authorization code flow with PKCE for the MCP
resource (the authorize step driven as a signed-in member) and calls a tool; tokens for
another audience, revoked sessions and forged tokens are refused; an API key is accepted.

The platform runs behind the embedded gateway, served by uvicorn on this test's event loop
at an address chosen before the app is built, so that the resource and issuer URLs the
configuration derives from `PUBLIC_URL` are the ones the client sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
import uvicorn
from jose import jwt
from mcp.client import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.auth.tokens import token_service
from media_gateway.gateway.mcp.auth import McpAuthConfig
from media_gateway.gateway.mcp.signin import (
    DevicePrompt,
    DeviceSignIn,
    SignInConfig,
    SignInError,
    device_sign_in,
)
from media_gateway.platform.settings import Settings

try:
    from tests.subgraphs.identity.conftest import (
        Client,
        _drop_redis_keys,
        _own_redis_keys,
        _register,
        settings,
        supergraph_sdl,
    )
except ImportError:  # pragma: no cover
    from subgraphs.identity.conftest import (  # type: ignore[no-redef,unused-ignore]
        Client,
        _drop_redis_keys,
        _own_redis_keys,
        _register,
        settings,
        supergraph_sdl,
    )

__all__ = ["settings", "supergraph_sdl"]

REDIRECT = "http://127.0.0.1:33418/callback"
APPROVE = "mutation($u: String!) { approveDeviceAuthorization(userCode: $u) }"
AGENT_SCOPES = "catalog:read identity:read sync:read"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


@dataclass
class Served:
    url: str
    platform: Platform
    graphql: Client
    settings: Settings

    @property
    def resource(self) -> str:
        return f"{self.url}/mcp"


@contextlib.asynccontextmanager
async def _served(
    request: pytest.FixtureRequest,
    settings: Settings,
    supergraph_sdl: str,
    monkeypatch: pytest.MonkeyPatch,
    **env: str,
) -> AsyncIterator[Served]:
    from media_gateway.app.serve import build_gateway_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for name in (
        "GATEWAY_MCP_RESOURCE_URL",
        "GATEWAY_MCP_AUTHORIZATION_SERVER",
        "OAUTH_ISSUER",
        "OAUTH_RESOURCES",
        "MEDIA_GATEWAY_ENV",
        "GATEWAY_MCP_OPERATIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PUBLIC_URL", url)  # the gateway's side: resource and issuer
    monkeypatch.setenv("GATEWAY_MCP_SCOPES", AGENT_SCOPES)
    monkeypatch.setenv("GATEWAY_MCP_ANONYMOUS", "0")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    own = dataclasses.replace(settings, public_url=url)  # the identity service's side
    platform = Platform.create(Runtime.create(own))
    prefix = _own_redis_keys(request, platform["identity"])
    await platform.startup()
    app = build_gateway_app(platform, supergraph_sdl)  # the platform's own tools
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    graphql = Client(app, url)
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "the gateway did not start"
        yield Served(url, platform, graphql, own)
    finally:
        await graphql.aclose()
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()
        await platform.shutdown()
        if prefix:
            await _drop_redis_keys(prefix)


@pytest.fixture
async def served(
    request: pytest.FixtureRequest,
    settings: Settings,
    supergraph_sdl: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Served]:
    async with _served(request, settings, supergraph_sdl, monkeypatch) as found:
        yield found


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class SignedInBrowser:
    """The authorize step as a member's browser would take it: the authorization URL opened
    with the member's session, the redirect back to the client read for its code."""

    def __init__(self, member_token: str) -> None:
        self.member_token = member_token
        self.opened: list[str] = []
        self.result: AuthorizationCodeResult | None = None

    async def redirect(self, authorization_url: str) -> None:
        self.opened.append(authorization_url)
        async with httpx.AsyncClient() as http:
            response = await http.get(
                authorization_url, headers={"authorization": f"Bearer {self.member_token}"}
            )
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(REDIRECT + "?"), location
        query = parse_qs(urlsplit(location).query)
        assert "error" not in query, query
        self.result = AuthorizationCodeResult(code=query["code"][0], state=query["state"][0])

    async def callback(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def _provider(served: Served, browser: SignedInBrowser, storage: MemoryStorage) -> Any:
    return OAuthClientProvider(
        server_url=served.resource,
        client_metadata=OAuthClientMetadata(
            client_name="Test agent",
            redirect_uris=[REDIRECT],  # type: ignore[list-item]
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )


@contextlib.asynccontextmanager
async def _session(url: str, **http: Any) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(timeout=60, **http) as client,
        streamable_http_client(f"{url}/mcp", http_client=client) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        yield session


def _tool_data(result: Any) -> Any:
    assert not result.is_error, result
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def _post_initialize(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{url}/mcp",
            json=INITIALIZE,
            headers={
                "accept": "application/json, text/event-stream",
                "content-type": "application/json",
                **(headers or {}),
            },
        )


def _refused_as_invalid_token(response: httpx.Response, served: Served) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{served.url}/.well-known/oauth-protected-resource/mcp"' in (
        challenge
    )
    assert response.json()["error"] == "invalid_token"


async def _member(served: Served) -> dict[str, Any]:
    return await _register(served.graphql)


async def test_the_sdk_signs_in_with_oauth_and_calls_a_tool(served: Served) -> None:
    member = await _member(served)
    browser = SignedInBrowser(member["token"])
    storage = MemoryStorage()
    async with _session(served.url, auth=_provider(served, browser, storage)) as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert "my_watchlist" in tools
        data = _tool_data(await session.call_tool("my_watchlist", {}))
        assert "watchlistEntries" in json.dumps(data)
    # the client found the authorization server through the metadata, registered itself,
    # and asked for the scopes the resource lists, for this resource
    assert storage.client_info is not None and storage.client_info.client_id.startswith("app-")
    assert len(browser.opened) == 1
    asked = parse_qs(urlsplit(browser.opened[0]).query)
    assert asked["resource"] == [served.resource]
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["scope"] == [AGENT_SCOPES]
    assert storage.tokens is not None
    claims = jwt.get_unverified_claims(storage.tokens.access_token)
    assert claims["aud"] == [served.resource, served.settings.jwt_audience]
    assert claims["sub"] == member["id"]
    assert set(claims["scope"].split()) == set(AGENT_SCOPES.split())


async def test_discovery_documents_and_the_challenge(served: Served) -> None:
    anonymous = await _post_initialize(served.url)
    assert anonymous.status_code == 401
    challenge = anonymous.headers["www-authenticate"]
    metadata_url = f"{served.url}/.well-known/oauth-protected-resource/mcp"
    assert challenge.startswith(f'Bearer resource_metadata="{metadata_url}"')
    assert "error=" not in challenge  # no credentials, no error code (RFC 6750 3.1)
    async with httpx.AsyncClient() as http:
        suffixed = (await http.get(metadata_url)).json()
        root = (await http.get(f"{served.url}/.well-known/oauth-protected-resource")).json()
        server = await http.get(f"{served.url}/.well-known/oauth-authorization-server")
    assert suffixed == root
    assert suffixed["resource"] == served.resource
    assert suffixed["authorization_servers"] == [served.url]
    assert suffixed["scopes_supported"] == sorted(AGENT_SCOPES.split())
    assert suffixed["bearer_methods_supported"] == ["header"]
    assert server.status_code == 200 and server.json()["issuer"] == served.url


async def test_a_token_for_another_audience_is_refused(served: Served) -> None:
    member = await _member(served)
    # the member's own session token is for the API, not for this resource
    _refused_as_invalid_token(
        await _post_initialize(served.url, {"authorization": f"Bearer {member['token']}"}),
        served,
    )
    # a genuine token bound to another resource
    tokens = token_service(served.settings)
    other, _ = tokens.issue_access_token(
        member["id"], scopes=("catalog:read",), resources=("https://elsewhere.example/mcp",)
    )
    _refused_as_invalid_token(
        await _post_initialize(served.url, {"authorization": f"Bearer {other}"}), served
    )
    # forged: this resource in the audience, but signed by no key the platform knows
    forged = jwt.encode(
        {**jwt.get_unverified_claims(other), "aud": [served.resource]},
        "not-the-key",
        algorithm="HS256",
    )
    _refused_as_invalid_token(
        await _post_initialize(served.url, {"authorization": f"Bearer {forged}"}), served
    )
    # while a token issued for this resource is accepted
    bound, _ = tokens.issue_access_token(
        member["id"], scopes=("catalog:read",), resources=(served.resource,)
    )
    accepted = await _post_initialize(served.url, {"authorization": f"Bearer {bound}"})
    assert accepted.status_code == 200, accepted.text


async def test_a_revoked_session_is_refused(served: Served) -> None:
    member = await _member(served)
    browser = SignedInBrowser(member["token"])
    storage = MemoryStorage()
    async with _session(served.url, auth=_provider(served, browser, storage)) as session:
        _tool_data(await session.call_tool("my_watchlist", {}))
    assert storage.tokens is not None and storage.tokens.refresh_token
    access = storage.tokens.access_token
    works = await _post_initialize(served.url, {"authorization": f"Bearer {access}"})
    assert works.status_code == 200, works.text
    # the member signs the agent's session out
    body = await served.graphql(
        "mutation($t: String!) { logout(refreshToken: $t) }",
        {"t": storage.tokens.refresh_token},
    )
    assert body["data"] == {"logout": True}, body
    _refused_as_invalid_token(
        await _post_initialize(served.url, {"authorization": f"Bearer {access}"}), served
    )


async def test_an_api_key_is_accepted(served: Served) -> None:
    member = await _member(served)
    created = await served.graphql(
        """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }""",
        {"i": {"name": "agent", "scopes": ["identity:read", "sync:read", "catalog:read"]}},
        token=member["token"],
    )
    assert "errors" not in created, created
    key = created["data"]["createApiKey"]["secret"]
    async with _session(served.url, headers={"x-api-key": key}) as session:
        data = _tool_data(await session.call_tool("my_watchlist", {}))
        assert "watchlistEntries" in json.dumps(data)
    unknown = await _post_initialize(served.url, {"x-api-key": "mgk_" + "0" * 40})
    _refused_as_invalid_token(unknown, served)


async def test_a_tool_needing_a_scope_the_token_lacks_is_a_tool_error(served: Served) -> None:
    member = await _member(served)
    narrow, _ = token_service(served.settings).issue_access_token(
        member["id"], scopes=("catalog:read",), resources=(served.resource,)
    )
    async with _session(served.url, headers={"authorization": f"Bearer {narrow}"}) as session:
        refused = await session.call_tool("my_watchlist", {})
        # the router refused the field: null, and the answer says why
        assert refused.structured_content == {"me": None}, refused
        assert "FORBIDDEN" in refused.content[0].text, refused


async def test_anonymous_callers_in_development_and_in_production(
    request: pytest.FixtureRequest,
    settings: Settings,
    supergraph_sdl: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _served(
        request, settings, supergraph_sdl, monkeypatch, GATEWAY_MCP_ANONYMOUS="1"
    ) as development:
        admitted = await _post_initialize(development.url)
        assert admitted.status_code == 200, admitted.text
        async with _session(development.url) as session:
            tools = {tool.name for tool in (await session.list_tools()).tools}
            assert "search_titles" in tools
            refused = await session.call_tool("my_watchlist", {})
            # a member's tool needs a member
            assert refused.structured_content == {"me": None}, refused
            assert "UNAUTHENTICATED" in refused.content[0].text, refused
    async with _served(
        request,
        settings,
        supergraph_sdl,
        monkeypatch,
        GATEWAY_MCP_ANONYMOUS="1",
        MEDIA_GATEWAY_ENV="production",
    ) as production:
        assert (await _post_initialize(production.url)).status_code == 401


def test_anonymous_use_by_profile() -> None:
    development = McpAuthConfig.from_env({"PUBLIC_URL": "https://api.example.com"})
    assert development.anonymous
    assert development.resource == "https://api.example.com/mcp"
    assert development.authorization_servers == ("https://api.example.com",)
    assert not McpAuthConfig.from_env({"GATEWAY_MCP_ANONYMOUS": "0"}).anonymous
    production = McpAuthConfig.from_env(
        {"MEDIA_GATEWAY_ENV": "production", "GATEWAY_MCP_ANONYMOUS": "1"}
    )
    assert not production.anonymous
    issuer = McpAuthConfig.from_env(
        {"PUBLIC_URL": "https://api.example.com", "OAUTH_ISSUER": "https://id.example.com"}
    )
    assert issuer.authorization_servers == ("https://id.example.com",)


async def test_device_sign_in_for_the_stdio_transport(served: Served, tmp_path: Any) -> None:
    """The client-side device sign-in `media-gateway mcp` uses: the code approved by the
    member, the tokens cached (owner-only), reused, refreshed, and accepted at /mcp."""
    member = await _member(served)
    oauth = (await served.platform["identity"].context({})).oauth
    now = [time.time()]
    oauth.clock = lambda: now[0]

    async def sleep(seconds: float) -> None:  # the poll interval passes at once
        now[0] += seconds

    shown: list[DevicePrompt] = []

    async def approve(prompt: DevicePrompt) -> None:
        shown.append(prompt)
        body = await served.graphql(APPROVE, {"u": prompt.user_code}, token=member["token"])
        assert body["data"]["approveDeviceAuthorization"] is True, body

    cache = tmp_path / "token.json"
    config = SignInConfig(
        issuer=served.url, resource=served.resource, cache_path=cache, scope=AGENT_SCOPES
    )
    signin = DeviceSignIn(config, sleep=sleep)
    assert await signin.headers() is None  # nothing cached: sign in first
    token = await signin.sign_in(approve)
    assert len(shown) == 1 and shown[0].user_code in shown[0].message
    assert cache.stat().st_mode & 0o777 == 0o600
    claims = jwt.get_unverified_claims(token.access_token)
    assert claims["sub"] == member["id"] and served.resource in claims["aud"]
    headers = await signin.headers()
    assert headers == {"authorization": f"Bearer {token.access_token}"}
    async with _session(served.url, headers=headers) as session:
        _tool_data(await session.call_tool("my_watchlist", {}))

    def never(_: DevicePrompt) -> None:
        raise AssertionError("a cached token needs no new sign-in")

    again = await device_sign_in(served.url, resource=served.resource, cache_path=cache, show=never)
    assert again.access_token == token.access_token
    # due: refreshed with the refresh token, still for this resource
    signin.cache.save(dataclasses.replace(token, expires_at=0.0))
    refreshed = await signin.headers()
    assert refreshed is not None and refreshed != headers
    new_access = refreshed["authorization"].removeprefix("Bearer ")
    assert served.resource in jwt.get_unverified_claims(new_access)["aud"]
    # an API key wins over any cached token
    keyed = DeviceSignIn(dataclasses.replace(config, api_key="mgk_example"))
    assert await keyed.headers() == {"x-api-key": "mgk_example"}


async def test_device_sign_in_finds_the_server_through_the_gateway(tmp_path: Any) -> None:
    """Given the gateway's address (the distributed mode, where identity has its own), the
    authorization server is the one its protected resource metadata names."""
    gateway, identity = "http://gateway.test", "http://identity.test"

    def answer(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if url == f"{gateway}/.well-known/oauth-protected-resource/mcp":
            return httpx.Response(
                200, json={"resource": f"{gateway}/mcp", "authorization_servers": [identity]}
            )
        if url == f"{identity}/.well-known/oauth-authorization-server":
            return httpx.Response(
                200,
                json={
                    "issuer": identity,
                    "token_endpoint": f"{identity}/oauth/token",
                    "device_authorization_endpoint": f"{identity}/oauth/device_authorization",
                },
            )
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        signin = DeviceSignIn(
            SignInConfig(issuer=gateway, resource=f"{gateway}/mcp", cache_path=tmp_path / "t.json"),
            http=http,
        )
        metadata = await signin.metadata()
        assert metadata["token_endpoint"] == f"{identity}/oauth/token"
        nowhere = DeviceSignIn(
            SignInConfig(issuer="http://elsewhere.test", cache_path=tmp_path / "u.json"),
            http=http,
        )
        with pytest.raises(SignInError):
            await nowhere.metadata()


def test_the_scopes_each_tool_needs(supergraph_sdl: str) -> None:
    """What the authentication section of docs/mcp.md lists, read from the supergraph's
    @requiresScopes for the platform's operations; the protected resource metadata can list
    the union (`McpAuth(..., scopes=...)`) when no scopes are configured."""
    from graphql import parse

    from media_gateway.app.serve import MCP_OPERATIONS
    from media_gateway.gateway.mcp.auth import McpAuth, operation_scopes
    from media_gateway.gateway.supergraph import Supergraph

    supergraph = Supergraph(supergraph_sdl)

    def needs(tool: str) -> set[str]:
        return operation_scopes(
            supergraph, [parse((MCP_OPERATIONS / f"{tool}.graphql").read_text())]
        )

    for public in ("search_titles", "title_details", "similar_titles", "complete_titles"):
        assert needs(public) == set(), public
    assert needs("my_watchlist") == {"identity:read", "sync:read"}
    assert needs("my_devices") == {"identity:read", "sync:read"}
    assert needs("my_continue_watching") == {"identity:read", "playback:read"}
    assert needs("my_recommendations") == {"identity:read", "recommendations:read"}
    assert needs("add_to_watchlist") == {"sync:read", "sync:write"}
    assert needs("remove_from_watchlist") == {"sync:read", "sync:write"}
    assert needs("send_remote_command") == {"sync:write"}
    every = operation_scopes(
        supergraph, [parse(path.read_text()) for path in MCP_OPERATIONS.glob("*.graphql")]
    )
    auth = McpAuth(McpAuthConfig(), None, scopes=lambda: every)
    assert auth.metadata()["scopes_supported"] == sorted(every)
    configured = McpAuth(McpAuthConfig(scopes=("catalog:read",)), None, scopes=lambda: every)
    assert configured.metadata()["scopes_supported"] == ["catalog:read"]
