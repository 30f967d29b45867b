"""Abuse limits, email verification and password reset, and the authorization directives."""

from __future__ import annotations

import re
from typing import Any

from media_gateway.app import Platform
from media_gateway.assembly.base import Subgraph

from .conftest import LOGIN, PASSWORD, Client, error_codes, identity_services, login

REFRESH = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }"


async def _mail_token(identity: Subgraph, email: str, kind: str) -> str:
    outbox = await identity_services(identity).emails.outbox_for(email)
    rows = [row for row in outbox if row.kind == kind]
    assert rows, f"no {kind} email for {email}"
    match = re.search(r"code: (\S+)", rows[0].body)
    assert match
    return match.group(1)


async def test_email_verification_is_single_use(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    assert (await graph("{ me { emailVerified } }", token=account["token"]))["data"]["me"][
        "emailVerified"
    ] is False
    token = await _mail_token(identity, account["email"], "verify-email")
    verify = "mutation($t: String!) { verifyEmail(token: $t) { id emailVerified } }"
    done = await graph(verify, {"t": token})
    assert done["data"]["verifyEmail"] == {"id": account["id"], "emailVerified": True}
    assert error_codes(await graph(verify, {"t": token})) == ["INVALID_TOKEN"]
    assert error_codes(await graph(verify, {"t": "made-up"})) == ["INVALID_TOKEN"]


async def test_password_reset_revokes_every_session(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    request = "mutation($e: String!) { requestPasswordReset(email: $e) }"
    unknown = await graph(request, {"e": "nobody-here@example.com"})
    known = await graph(request, {"e": account["email"]})
    assert unknown == known == {"data": {"requestPasswordReset": True}}
    token = await _mail_token(identity, account["email"], "reset-password")
    reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }"
    short = await graph(reset, {"t": token, "p": "short"})
    assert error_codes(short) == ["BAD_USER_INPUT"]  # the token is not spent by a typo
    assert (await graph(reset, {"t": token, "p": "a brand new secret"}))["data"] == {
        "resetPassword": True
    }
    assert error_codes(await graph(reset, {"t": token, "p": "yet another one"})) == [
        "INVALID_TOKEN"
    ]
    # every session ended; the old password no longer works, the new one does
    assert error_codes(await graph(REFRESH, {"t": account["refresh"]})) == ["UNAUTHENTICATED"]
    old = await graph(LOGIN, {"email": account["email"], "password": PASSWORD})
    assert error_codes(old) == ["UNAUTHENTICATED"]
    await login(graph, account["email"], "a brand new secret")


async def test_directives_are_in_the_schema_and_enforced(
    platform: Platform, gateway: Client
) -> None:
    sdl = platform["identity"].sdl()
    assert re.search(
        r"apiKeys: \[ApiKey!\] @requiresScopes\(scopes: \[\[\"identity:admin\"\]\]\)", sdl
    )
    assert "switchProfile(" in sdl and "@authenticated" in sdl
    body = await gateway("{ apiKeys { id } activeProfile { id } }")
    assert body["data"] == {"apiKeys": None, "activeProfile": None}
    # each refused field has its own error at its own path
    assert error_codes(body) == ["UNAUTHENTICATED", "UNAUTHENTICATED"]
    assert sorted(e["path"] for e in body["errors"]) == [["activeProfile"], ["apiKeys"]]
