"""Passwords per NIST SP 800-63B, wherever one is set: register and reset."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from media_gateway.assembly.base import Subgraph
from media_gateway.platform.demo import DEMO_PASSWORD
from media_gateway.subgraphs.identity.passwords import MAX_PASSWORD_LENGTH, password_refusal

from .conftest import LOGIN, REGISTER, Client, error_codes, identity_services, login

WEAK = {
    "password": "password",
    "digits": "12345678",
    "spaces": " " * 8,
    "nul bytes": "\x00" * 8,
    "keyboard walk": "qwertyuiop",
    "repeats": "x" * 64,
}
RESET = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }"


def _email() -> str:
    return f"policy-{uuid.uuid4().hex[:8]}@example.com"


def _refusal(body: dict[str, Any]) -> tuple[str, str, str]:
    assert body.get("data") in (None, {}) or not any((body.get("data") or {}).values()), body
    (error,) = body["errors"]
    ext = error["extensions"]
    return ext["code"], ext.get("reason", ""), error["message"]


@pytest.mark.parametrize("name", sorted(WEAK))
async def test_register_refuses_common_and_weak_passwords(graph: Client, name: str) -> None:
    email = _email()
    body = await graph(REGISTER, {"email": email, "password": WEAK[name], "name": "Viewer"})
    code, reason, message = _refusal(body)
    assert code == "BAD_USER_INPUT"
    assert body["errors"][0]["extensions"]["field"] == "password"
    if name == "nul bytes":
        assert reason == "control_characters", message
    else:
        assert reason == "too_common", message
        assert "too easy to guess" in message
    # nothing was stored: a strong password for the same email then works
    fine = await graph(
        REGISTER, {"email": email, "password": "velvet marmot kiln", "name": "Viewer"}
    )
    assert "errors" not in fine, fine


async def test_length_bounds_have_their_own_messages(graph: Client) -> None:
    short = await graph(REGISTER, {"email": _email(), "password": "k3#v", "name": "V"})
    assert _refusal(short)[:2] == ("BAD_USER_INPUT", "too_short")
    assert "at least 8 characters" in short["errors"][0]["message"]

    huge = await graph(REGISTER, {"email": _email(), "password": "z" * 10_000, "name": "V"})
    code, reason, message = _refusal(huge)
    assert (code, reason) == ("BAD_USER_INPUT", "too_long")
    assert f"at most {MAX_PASSWORD_LENGTH} characters" in message
    assert "at least" not in message


async def test_long_passphrases_and_no_composition_rules(graph: Client) -> None:
    passphrase = "the quiet lighthouse keeper paints seagulls on every other tuesday"
    longest = ("copper kettles hum " * 10)[: MAX_PASSWORD_LENGTH - 6] + " fjord"
    assert len(passphrase) >= 64 and len(longest) == MAX_PASSWORD_LENGTH
    for password in (passphrase, longest, "lowercase words only", "ümlaut pässwörter hier"):
        email = _email()
        body = await graph(REGISTER, {"email": email, "password": password, "name": "V"})
        assert "errors" not in body, body
        await login(graph, email, password)


async def test_the_account_email_and_name_are_not_a_password(graph: Client) -> None:
    email = f"marigold.window{uuid.uuid4().hex[:4]}@example.com"
    body = await graph(REGISTER, {"email": email, "password": email, "name": "Marigold"})
    assert _refusal(body)[:2] == ("BAD_USER_INPUT", "too_common")


async def test_demo_password_meets_the_policy() -> None:
    assert password_refusal(DEMO_PASSWORD) is None


async def test_reset_applies_the_policy_and_keeps_the_link(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    emails = identity_services(identity).emails
    await graph(
        "mutation($e: String!) { requestPasswordReset(email: $e) }", {"e": account["email"]}
    )
    rows = [r for r in await emails.outbox_for(account["email"]) if r.kind == "reset-password"]
    match = re.search(r"code: (\S+)", rows[0].body)
    assert match
    token = match.group(1)
    for weak in ("password", "12345678", " " * 8, "\x00" * 8, "y" * 10_000):
        body = await graph(RESET, {"t": token, "p": weak})
        assert error_codes(body) == ["BAD_USER_INPUT"], (weak[:10], body)
        assert body["errors"][0]["extensions"]["field"] == "newPassword"
    done = await graph(RESET, {"t": token, "p": "granite owl symphony"})
    assert done["data"] == {"resetPassword": True}
    await login(graph, account["email"], "granite owl symphony")
    refused = await graph(LOGIN, {"email": account["email"], "password": "password"})
    assert error_codes(refused) == ["UNAUTHENTICATED"]
