"""Revocation takes effect at once: after sign-out, sign-out everywhere, a password change or
reset, or a reused refresh token, the old access token is refused (UNAUTHENTICATED) by the
router and by every subgraph, on this instance at once and on another within a second.

Backends: SQLite and PostgreSQL, each on its own and with Redis (``TEST_POSTGRES_URL``,
``TEST_REDIS_URL``; the Redis stream has a name of the test's own).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.auth import revocation
from media_gateway.auth.revocation import RevokedSessions
from media_gateway.platform.settings import Settings

from .conftest import REDIS_URL, REGISTER, Client, error_codes, login
from .test_abuse_and_email import _mail_token

try:
    from tests.storage.backends import POSTGRES_URL, make_settings, postgres_schema
except ImportError:  # pragma: no cover
    from storage.backends import (  # type: ignore[no-redef,unused-ignore]
        POSTGRES_URL,
        make_settings,
        postgres_schema,
    )

_NEEDS_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
]
_NEEDS_REDIS = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set"),
]
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=_NEEDS_POSTGRES),
    pytest.param("sqlite+redis", marks=_NEEDS_REDIS),
    pytest.param("postgres+redis", marks=[*_NEEDS_POSTGRES, *_NEEDS_REDIS]),
]
PASSWORD = "violet-harbour-lantern-4821"
NEW_PASSWORD = "amber-quarry-nightjar-9053"
ME = "{ me { id } }"
REFRESH = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }"


@pytest.fixture(scope="module", params=BACKENDS)
def settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"revocation-{backend.replace('+', '-')}")
    if backend.startswith("postgres"):
        with postgres_schema("mg_revocation") as schema:
            yield make_settings(data_dir, "postgres", schema)
    else:
        yield make_settings(data_dir, "sqlite")


@pytest.fixture
def stream_key(request: pytest.FixtureRequest) -> str | None:
    """The Redis stream of this test, or None without Redis."""
    if "redis" not in request.node.callspec.params["settings"]:
        return None
    return f"mgtest:revocations:{uuid.uuid4().hex[:10]}"


async def _start(settings: Settings, stream_key: str | None) -> Platform:
    platform = Platform.create(Runtime.create(settings))
    if stream_key is not None:
        revocation.install(
            platform.runtime.database,
            RevokedSessions(platform.runtime.database, REDIS_URL, stream_key=stream_key),
        )
    await platform.startup()
    return platform


@pytest.fixture
async def platform(settings: Settings, stream_key: str | None) -> AsyncIterator[Platform]:
    platform = await _start(settings, stream_key)
    try:
        yield platform
    finally:
        await platform.shutdown()
        if stream_key is not None:
            await _drop_stream(stream_key)


async def _drop_stream(key: str) -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL or "")
    try:
        await client.delete(key)
    finally:
        await client.aclose()


async def _member(gateway: Client) -> dict[str, Any]:
    email = f"revoked-{uuid.uuid4().hex[:8]}@example.com"
    body = await gateway(REGISTER, {"email": email, "password": PASSWORD, "name": "Viewer"})
    assert "errors" not in body, body
    session = await login(gateway, email, PASSWORD)
    return {
        "id": session["user"]["id"],
        "email": email,
        "token": session["accessToken"],
        "refresh": session["refreshToken"],
    }


async def _assert_works(gateway: Client, token: str) -> None:
    body = await gateway(ME, token=token)
    assert "errors" not in body, body
    assert body["data"]["me"]["id"]


async def _assert_refused(gateway: Client, token: str) -> None:
    body = await gateway(ME, token=token)
    assert body["data"] == {"me": None}, body
    assert error_codes(body) == ["UNAUTHENTICATED"], body


async def test_tokens_name_their_session(gateway: Client) -> None:
    from jose import jwt

    first = await _member(gateway)
    second = await login(gateway, first["email"], PASSWORD)
    sid = jwt.get_unverified_claims(first["token"])["sid"]
    assert sid and sid != jwt.get_unverified_claims(second["accessToken"])["sid"]
    refreshed = (await gateway(REFRESH, {"t": first["refresh"]}))["data"]["refreshSession"]
    assert jwt.get_unverified_claims(refreshed["accessToken"])["sid"] == sid


async def test_logout_stops_the_access_token_at_once(gateway: Client) -> None:
    member = await _member(gateway)
    other = await login(gateway, member["email"], PASSWORD)
    await _assert_works(gateway, member["token"])
    body = await gateway(
        "mutation($t: String!) { logout(refreshToken: $t) }", {"t": member["refresh"]}
    )
    assert body["data"] == {"logout": True}
    await _assert_refused(gateway, member["token"])
    await _assert_works(gateway, other["accessToken"])  # another session goes on


async def test_logout_everywhere_stops_every_session(gateway: Client) -> None:
    member = await _member(gateway)
    other = await login(gateway, member["email"], PASSWORD)
    body = await gateway("mutation { logoutEverywhere }", token=member["token"])
    assert body["data"] == {"logoutEverywhere": True}, body
    await _assert_refused(gateway, member["token"])
    await _assert_refused(gateway, other["accessToken"])
    await _assert_works(gateway, (await login(gateway, member["email"], PASSWORD))["accessToken"])


async def test_changing_the_password_stops_every_session(gateway: Client) -> None:
    member = await _member(gateway)
    other = await login(gateway, member["email"], PASSWORD)
    change = """
    mutation($old: String!, $new: String!) {
      changePassword(currentPassword: $old, newPassword: $new) { accessToken refreshToken }
    }"""
    wrong = await gateway(change, {"old": "not-the-password", "new": NEW_PASSWORD}, member["token"])
    assert error_codes(wrong) == ["UNAUTHENTICATED"]
    await _assert_works(gateway, member["token"])  # a wrong current password changes nothing
    body = await gateway(change, {"old": PASSWORD, "new": NEW_PASSWORD}, member["token"])
    assert "errors" not in body, body
    await _assert_refused(gateway, member["token"])
    await _assert_refused(gateway, other["accessToken"])
    await _assert_works(gateway, body["data"]["changePassword"]["accessToken"])
    assert error_codes(await gateway(REFRESH, {"t": member["refresh"]})) == ["UNAUTHENTICATED"]


async def test_a_password_reset_stops_every_session(platform: Platform, gateway: Client) -> None:
    member = await _member(gateway)
    asked = await gateway(
        "mutation($e: String!) { requestPasswordReset(email: $e) }", {"e": member["email"]}
    )
    assert asked["data"] == {"requestPasswordReset": True}
    token = await _mail_token(platform["identity"], member["email"], "reset-password")
    reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }"
    assert (await gateway(reset, {"t": token, "p": NEW_PASSWORD}))["data"] == {
        "resetPassword": True
    }
    await _assert_refused(gateway, member["token"])


async def test_a_reused_refresh_token_stops_the_family(gateway: Client) -> None:
    member = await _member(gateway)
    rotated = (await gateway(REFRESH, {"t": member["refresh"]}))["data"]["refreshSession"]
    await _assert_works(gateway, rotated["accessToken"])
    replay = await gateway(REFRESH, {"t": member["refresh"]})
    assert error_codes(replay) == ["REFRESH_TOKEN_REUSED"]
    await _assert_refused(gateway, member["token"])
    await _assert_refused(gateway, rotated["accessToken"])


async def test_every_subgraph_refuses_a_revoked_token(platform: Platform, gateway: Client) -> None:
    """Asked directly (as in the distributed mode), each subgraph refuses the token too."""
    member = await _member(gateway)
    await gateway("mutation($t: String!) { logout(refreshToken: $t) }", {"t": member["refresh"]})
    private = {
        "identity": ME,
        "sync": "{ syncState { cursor } }",
        "playback": '{ playbackSession(id: "unknown") { id } }',
    }
    for name, query in private.items():
        app = platform[name].asgi_app()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://subgraph"
        ) as http:
            response = await http.post(
                "/graphql",
                json={"query": query},
                headers={"authorization": f"Bearer {member['token']}"},
            )
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        assert "UNAUTHENTICATED" in error_codes(body), (name, body)
        assert "session has ended" in body["errors"][0]["message"], (name, body)


async def test_a_revoked_token_cannot_subscribe(gateway: Client) -> None:
    member = await _member(gateway)
    await gateway("mutation($t: String!) { logout(refreshToken: $t) }", {"t": member["refresh"]})
    response = await gateway.http.post(
        "/graphql",
        json={"query": "subscription { watchlistChanged { cursor } }"},
        headers={"accept": "text/event-stream", "authorization": f"Bearer {member['token']}"},
    )
    assert response.status_code == 200
    assert '"code":"UNAUTHENTICATED"' in response.text.replace(" ", ""), response.text


async def test_another_instance_refuses_within_a_second(
    settings: Settings,
    stream_key: str | None,
    supergraph_sdl: str,
    platform: Platform,
    gateway: Client,
) -> None:
    """Two instances share only the database (and Redis): a sign-out through one is
    refused by the other within a second."""
    from media_gateway.app.serve import build_gateway_app

    second = await _start(settings, stream_key)
    other = Client(build_gateway_app(second, supergraph_sdl), "http://other")
    try:
        member = await _member(gateway)
        await _assert_works(other, member["token"])
        body = await gateway(
            "mutation($t: String!) { logout(refreshToken: $t) }", {"t": member["refresh"]}
        )
        assert body["data"] == {"logout": True}
        revoked_at = time.monotonic()
        while True:  # a request that starts a second after the sign-out is refused
            asked_at = time.monotonic()
            if error_codes(await other(ME, token=member["token"])) == ["UNAUTHENTICATED"]:
                break
            assert asked_at - revoked_at < 1.0, "still accepted a second later"
            await asyncio.sleep(0.02)
    finally:
        await other.aclose()
        await second.shutdown()


async def test_unreachable_redis_falls_back_to_the_database(
    settings: Settings, supergraph_sdl: str
) -> None:
    """Redis going away: revocations are read from the database, never a server error."""
    from media_gateway.app.serve import build_gateway_app

    platform = Platform.create(Runtime.create(settings))
    database = platform.runtime.database
    revocation.install(database, RevokedSessions(database, "redis://127.0.0.1:1/0"))
    await platform.startup()
    gateway = Client(build_gateway_app(platform, supergraph_sdl), "http://gateway")
    try:
        member = await _member(gateway)
        await _assert_works(gateway, member["token"])
        await gateway(
            "mutation($t: String!) { logout(refreshToken: $t) }", {"t": member["refresh"]}
        )
        await _assert_refused(gateway, member["token"])
    finally:
        await gateway.aclose()
        await platform.shutdown()


async def test_revocations_that_cannot_be_read_refuse_tokens_clearly() -> None:
    """With neither Redis nor a database answering, tokens with a session are refused with
    a reason (fail closed), never trusted blindly and never a server error."""
    sessions = RevokedSessions(None, "redis://127.0.0.1:1/0", stale_seconds=0.05)
    assert await sessions.check("some-session") == revocation.UNCHECKABLE_MESSAGE
    assert "127.0.0.1" not in revocation.UNCHECKABLE_MESSAGE
    await sessions.aclose()
