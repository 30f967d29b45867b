"""The GitHub preset of social sign-in (OAuth 2.0 and its user API: GitHub is not an OpenID
provider), against a small HTTP server on loopback that answers as GitHub's endpoints do and
checks what GitHub checks: the client's secret, the code, the redirect URI and the PKCE
verifier against the challenge of the authorization request."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from media_gateway.subgraphs.identity.oidc import (
    ProviderClient,
    SocialSignInError,
    github,
    providers_from_config,
)

CLIENT_ID = "github-client"
CLIENT_SECRET = "github-secret-" + "x" * 20
REDIRECT_URI = "http://127.0.0.1:4000/login/github/callback"


@dataclass
class FakeGitHub:
    """GitHub's token endpoint and user API, as far as sign-in uses them."""

    emails: list[dict[str, Any]] = field(default_factory=list)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)

    def authorize(self, url: str) -> str:
        """What GitHub does when the member approves: a code bound to the request."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        code = secrets.token_hex(10)
        self.codes[code] = query
        return code

    def app(self) -> Starlette:
        async def token(request: Request) -> Response:
            form = await request.form()
            request_of_code = self.codes.pop(str(form.get("code")), None)
            if (
                request_of_code is None
                or form.get("client_id") != CLIENT_ID
                or form.get("client_secret") != CLIENT_SECRET
                or form.get("redirect_uri") != request_of_code["redirect_uri"]
                or _s256(str(form.get("code_verifier"))) != request_of_code["code_challenge"]
            ):
                # GitHub answers 200 with an error object
                return JSONResponse({"error": "bad_verification_code"})
            access = "gho_" + secrets.token_hex(16)
            self.tokens.add(access)
            return JSONResponse({"access_token": access, "token_type": "bearer"})

        def authorized(request: Request) -> bool:
            header = request.headers.get("authorization", "")
            return header.startswith("Bearer ") and header[7:] in self.tokens

        async def user(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            return JSONResponse({"id": 4242, "login": "octo-viewer", "name": None})

        async def emails(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            return JSONResponse(self.emails)

        return Starlette(
            routes=[
                Route("/login/oauth/access_token", token, methods=["POST"]),
                Route("/api/user", user),
                Route("/api/user/emails", emails),
            ]
        )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@pytest.fixture(scope="module")
def fake_github() -> Iterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(fake.app(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield fake, url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


async def _sign_in(fake: FakeGitHub, url: str, **tamper: str) -> Any:
    provider = github(CLIENT_ID, CLIENT_SECRET, web_url=url, api_url=f"{url}/api")
    client = ProviderClient({"github": provider})
    verifier = secrets.token_urlsafe(48)
    try:
        authorize = await client.authorization_request(
            provider, REDIRECT_URI, "state-" + "s" * 20, "unused-nonce", verifier
        )
        query = parse_qs(urlsplit(authorize).query)
        assert authorize.startswith(f"{url}/login/oauth/authorize?")
        assert query["code_challenge_method"] == ["S256"]
        assert query["scope"] == ["read:user user:email"]
        assert "nonce" not in query  # not OpenID Connect
        code = await asyncio.to_thread(fake.authorize, authorize)
        return await client.identity(
            provider,
            tamper.get("code", code),
            tamper.get("redirect_uri", REDIRECT_URI),
            tamper.get("verifier", verifier),
            "unused-nonce",
        )
    finally:
        await client.aclose()


async def test_github_says_who_signed_in_with_the_primary_verified_email(
    fake_github: tuple[FakeGitHub, str],
) -> None:
    fake, url = fake_github
    fake.emails = [
        {"email": "old@example.com", "primary": False, "verified": True},
        {"email": "Viewer@Example.com", "primary": True, "verified": True},
    ]
    identity = await _sign_in(fake, url)
    assert identity.provider == "github"
    assert identity.subject == "4242"
    assert identity.email == "viewer@example.com"
    assert identity.email_verified is True
    assert identity.name == "octo-viewer"


async def test_an_unverified_primary_email_is_not_vouched_for(
    fake_github: tuple[FakeGitHub, str],
) -> None:
    fake, url = fake_github
    fake.emails = [{"email": "viewer@example.com", "primary": True, "verified": False}]
    identity = await _sign_in(fake, url)
    assert identity.email_verified is False


@pytest.mark.parametrize(
    "tamper",
    [
        {"verifier": secrets.token_urlsafe(48)},  # not the verifier of the challenge
        {"code": "a-code-never-issued"},
        {"redirect_uri": "http://127.0.0.1:4000/elsewhere"},
    ],
    ids=["pkce-verifier", "code", "redirect-uri"],
)
async def test_a_refused_exchange_is_a_provider_error(
    fake_github: tuple[FakeGitHub, str], tamper: dict[str, str]
) -> None:
    fake, url = fake_github
    with pytest.raises(SocialSignInError) as refused:
        await _sign_in(fake, url, **tamper)
    assert refused.value.kind == "provider_error"
    assert "bad_verification_code" in refused.value.message


def test_the_presets_come_from_the_environment() -> None:
    providers = providers_from_config(
        {
            "GOOGLE_CLIENT_ID": "g-id",
            "GOOGLE_CLIENT_SECRET": "g-secret",
            "GITHUB_CLIENT_ID": "gh-id",
            "GITHUB_CLIENT_SECRET": "gh-secret",
            "APPLE_CLIENT_ID": "com.example.web",
            "APPLE_CLIENT_SECRET": "apple-secret-jwt",
            "OIDC_PROVIDERS": '{"corp": {"issuer": "https://login.example.com",'
            ' "client_id": "corp-id", "display_name": "Example Corp"}}',
        }
    )
    assert {name: p.display_name for name, p in providers.items()} == {
        "google": "Google",
        "apple": "Apple",
        "github": "GitHub",
        "corp": "Example Corp",
    }
    assert providers["google"].issuer == "https://accounts.google.com"
    assert providers["apple"].issuer == "https://appleid.apple.com"
    assert providers["apple"].response_mode == "form_post"
    assert providers["github"].kind == "github"
    assert providers["corp"].client_secret is None  # a public client: PKCE only


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"GITHUB_CLIENT_ID": "id"}, "GITHUB_CLIENT_ID needs GITHUB_CLIENT_SECRET"),
        ({"APPLE_CLIENT_ID": "id"}, "APPLE_CLIENT_ID needs APPLE_CLIENT_SECRET"),
        ({"OIDC_PROVIDERS": "{not json"}, "OIDC_PROVIDERS is not JSON"),
        (
            {"OIDC_PROVIDERS": '{"corp": {"issuer": "http://login.example.com",'
             ' "client_id": "x"}}'},
            "must be an https URL",
        ),
        ({"OIDC_PROVIDERS": '{"done": {"issuer": "https://a.example.com", "client_id": "x"}}'},
         "a provider's name"),
    ],
)  # fmt: skip
def test_a_wrong_configuration_is_named(config: dict[str, str], message: str) -> None:
    from media_gateway.subgraphs.identity.oidc import ProviderConfigError

    with pytest.raises(ProviderConfigError, match=message):
        providers_from_config(config)
