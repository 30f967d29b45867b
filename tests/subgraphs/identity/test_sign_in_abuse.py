"""Failed sign-ins cannot be turned against the account's owner: limits per account and
address (or known device) with growing delays, and a higher per-account ceiling past which
a second factor, a known device or a password reset still signs the owner in."""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from media_gateway.app import Platform
from media_gateway.subgraphs.identity.signin import SignInPolicy

from .conftest import PASSWORD, REGISTER, Client, error_codes, identity_services
from .test_client_addresses import proxied  # noqa: F401  (fixture: loopback is a trusted proxy)
from .test_mfa import CONFIRM, START, _code

LOGIN = """
mutation Login($email: String!, $password: String!, $code: String, $device: String) {
  login(input: {email: $email, password: $password, totpCode: $code, deviceToken: $device}) {
    accessToken deviceToken user { id }
  }
}
"""
POLICY = SignInPolicy(
    free_failures=3,
    first_delay=1.0,
    max_delay=8.0,
    pair_ceiling=20,
    account_ceiling=6,
)


_ADDRESSES = itertools.count(uuid.uuid4().int % 50_000)


def _address() -> str:
    """A client address no other sign-in of this run uses."""
    n = next(_ADDRESSES)
    return f"100.{64 + n // 65_536 % 64}.{n // 256 % 256}.{n % 256}"


@pytest.fixture
async def gateway_behind_proxy(
    proxied: Platform,  # noqa: F811
    supergraph_sdl: str,
) -> AsyncIterator[Client]:
    from media_gateway.app.serve import build_gateway_app

    identity_services(proxied["identity"]).sign_in.policy = POLICY
    client = Client(build_gateway_app(proxied, supergraph_sdl), "http://gateway")
    yield client
    await client.aclose()


@pytest.fixture
async def owner(gateway_behind_proxy: Client) -> dict[str, Any]:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    body = await gateway_behind_proxy(
        REGISTER, {"email": email, "password": PASSWORD, "name": "Owner"}
    )
    assert "errors" not in body, body
    return {"email": email, "home": _address()}


async def _try(
    gateway: Client,
    email: str,
    password: str,
    address: str,
    code: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    return await gateway(
        LOGIN,
        {"email": email, "password": password, "code": code, "device": device},
        headers={"x-forwarded-for": address},
    )


async def test_failures_from_one_address_do_not_slow_the_owner(
    gateway_behind_proxy: Client, owner: dict[str, Any]
) -> None:
    gateway, attacker = gateway_behind_proxy, _address()
    codes = [
        error_codes(await _try(gateway, owner["email"], f"guess {n}", attacker))[0]
        for n in range(5)
    ]
    assert codes[:3] == ["UNAUTHENTICATED"] * 3
    assert codes[3:] == ["RATE_LIMITED"] * 2  # the attacker's pair waits
    refused = await _try(gateway, owner["email"], PASSWORD, attacker)
    assert error_codes(refused) == ["RATE_LIMITED"]  # even the right password, from there
    assert refused["errors"][0]["extensions"]["retryAfter"] >= 1
    # the owner, at home, is neither delayed nor locked out
    wrong = await _try(gateway, owner["email"], "a typo here", owner["home"])
    assert error_codes(wrong) == ["UNAUTHENTICATED"]
    signed_in = await _try(gateway, owner["email"], PASSWORD, owner["home"])
    assert "errors" not in signed_in, signed_in
    assert signed_in["data"]["login"]["deviceToken"]


async def test_delays_grow_with_each_failure(
    gateway_behind_proxy: Client, owner: dict[str, Any]
) -> None:
    gateway, attacker = gateway_behind_proxy, _address()
    for n in range(3):
        assert error_codes(await _try(gateway, owner["email"], f"g{n}", attacker)) == [
            "UNAUTHENTICATED"
        ]
    first = await _try(gateway, owner["email"], "g3", attacker)
    assert first["errors"][0]["extensions"]["retryAfter"] == 1
    await asyncio.sleep(1.05)
    assert error_codes(await _try(gateway, owner["email"], "g4", attacker)) == ["UNAUTHENTICATED"]
    second = await _try(gateway, owner["email"], "g5", attacker)
    assert error_codes(second) == ["RATE_LIMITED"]
    assert second["errors"][0]["extensions"]["retryAfter"] == 2


async def _trip_the_account_ceiling(gateway: Client, email: str) -> None:
    for _ in range(POLICY.account_ceiling // 2):  # two failures from each of many addresses
        address = _address()
        for n in range(2):
            assert error_codes(await _try(gateway, email, f"spray {n}", address)) == [
                "UNAUTHENTICATED"
            ]


async def test_past_the_account_ceiling_a_password_alone_is_not_enough(
    gateway_behind_proxy: Client, owner: dict[str, Any]
) -> None:
    gateway = gateway_behind_proxy
    earlier = await _try(gateway, owner["email"], PASSWORD, owner["home"])
    device = earlier["data"]["login"]["deviceToken"]
    await _trip_the_account_ceiling(gateway, owner["email"])

    elsewhere = _address()
    right = await _try(gateway, owner["email"], PASSWORD, elsewhere)
    wrong = await _try(gateway, owner["email"], "not the password", elsewhere)
    assert error_codes(right) == error_codes(wrong) == ["RATE_LIMITED"]
    assert right["errors"][0]["message"] == wrong["errors"][0]["message"]  # no oracle
    assert "authenticator" in right["errors"][0]["message"]

    # a device that signed in before still signs in, from any address
    known = await _try(gateway, owner["email"], PASSWORD, _address(), device=device)
    assert "errors" not in known, known
    assert known["data"]["login"]["deviceToken"] == device
    # a device token of another account is no help
    forged = await _try(gateway, owner["email"], PASSWORD, _address(), device="made-up")
    assert error_codes(forged) == ["RATE_LIMITED"]


async def test_past_the_account_ceiling_a_second_factor_signs_in(
    gateway_behind_proxy: Client, owner: dict[str, Any]
) -> None:
    gateway = gateway_behind_proxy
    session = (await _try(gateway, owner["email"], PASSWORD, owner["home"]))["data"]["login"]
    started = (await gateway(START, token=session["accessToken"]))["data"]["startTotpEnrolment"]
    confirmed = await gateway(
        CONFIRM, {"c": _code(started["secret"])}, token=session["accessToken"]
    )
    backup_codes = confirmed["data"]["confirmTotpEnrolment"]["backupCodes"]
    await _trip_the_account_ceiling(gateway, owner["email"])

    elsewhere = _address()
    without = await _try(gateway, owner["email"], PASSWORD, elsewhere)
    assert error_codes(without) == ["RATE_LIMITED"]
    with_code = await _try(gateway, owner["email"], PASSWORD, elsewhere, code=backup_codes[0])
    assert "errors" not in with_code, with_code


async def test_a_password_reset_lifts_the_protection(
    proxied: Platform,  # noqa: F811
    gateway_behind_proxy: Client,
    owner: dict[str, Any],
) -> None:
    gateway = gateway_behind_proxy
    await _trip_the_account_ceiling(gateway, owner["email"])
    await gateway(
        "mutation($e: String!) { requestPasswordReset(email: $e) }", {"e": owner["email"]}
    )
    emails = identity_services(proxied["identity"]).emails
    rows = [r for r in await emails.outbox_for(owner["email"]) if r.kind == "reset-password"]
    match = re.search(r"code: (\S+)", rows[0].body)
    assert match
    reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }"
    done = await gateway(reset, {"t": match.group(1), "p": "saffron tide harbour"})
    assert done["data"] == {"resetPassword": True}
    after = await _try(gateway, owner["email"], "saffron tide harbour", _address())
    assert "errors" not in after, after
