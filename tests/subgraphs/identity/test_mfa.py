"""Two-step sign-in (TOTP, RFC 6238) through the gateway: enrolment, codes required, replays
refused, backup codes single use."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp

from .conftest import LOGIN, PASSWORD, Client, error_codes, login

START = "mutation { startTotpEnrolment { secret provisioningUri } }"
CONFIRM = "mutation($c: String!) { confirmTotpEnrolment(code: $c) { backupCodes } }"
DISABLE = "mutation($c: String!) { disableTotp(code: $c) }"
MFA = "{ me { mfaEnabled } }"


def _code(secret: str, steps_ahead: int = 0, at: float | None = None) -> str:
    return str(pyotp.TOTP(secret).at((time.time() if at is None else at) + 30 * steps_ahead))


async def _enrol(gateway: Client, member: dict[str, Any]) -> tuple[str, list[str]]:
    secret, backup_codes, _ = await _enrol_at(gateway, member)
    return secret, backup_codes


async def _enrol_at(gateway: Client, member: dict[str, Any]) -> tuple[str, list[str], float]:
    """Enrol; also returns the moment whose code confirmed the enrolment."""
    started = (await gateway(START, token=member["token"]))["data"]["startTotpEnrolment"]
    uri = urlsplit(started["provisioningUri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [started["secret"]]
    wrong = await gateway(CONFIRM, {"c": "000000"}, token=member["token"])
    assert error_codes(wrong) == ["BAD_USER_INPUT"]
    at = time.time()
    confirmed = await gateway(
        CONFIRM, {"c": _code(started["secret"], at=at)}, token=member["token"]
    )
    assert "errors" not in confirmed, confirmed
    return started["secret"], confirmed["data"]["confirmTotpEnrolment"]["backupCodes"], at


async def test_login_requires_the_code_once_enrolled(
    gateway: Client, member: dict[str, Any]
) -> None:
    assert (await gateway(MFA, token=member["token"]))["data"]["me"]["mfaEnabled"] is False
    secret, backup_codes = await _enrol(gateway, member)
    assert len(backup_codes) == 10 and len(set(backup_codes)) == 10
    assert (await gateway(MFA, token=member["token"]))["data"]["me"]["mfaEnabled"] is True
    no_code = await gateway(LOGIN, {"email": member["email"], "password": PASSWORD})
    assert error_codes(no_code) == ["MFA_REQUIRED"]
    wrong = await gateway(LOGIN, {"email": member["email"], "password": PASSWORD, "code": "123456"})
    assert error_codes(wrong) == ["UNAUTHENTICATED"]
    # the next step's code (the current one was spent on the confirmation)
    session = await login(gateway, member["email"], PASSWORD, _code(secret, 1))
    assert session["user"]["id"] == member["id"]


async def test_a_just_used_code_is_refused(gateway: Client, member: dict[str, Any]) -> None:
    secret, _, at = await _enrol_at(gateway, member)
    # the confirmation code itself cannot sign in (the very same code, even if a 30-second
    # step has begun since)
    replay = await gateway(
        LOGIN, {"email": member["email"], "password": PASSWORD, "code": _code(secret, at=at)}
    )
    assert error_codes(replay) == ["UNAUTHENTICATED"]
    code = _code(secret, 1, at=at)
    await login(gateway, member["email"], PASSWORD, code)
    again = await gateway(LOGIN, {"email": member["email"], "password": PASSWORD, "code": code})
    assert error_codes(again) == ["UNAUTHENTICATED"]
    assert "already used" in again["errors"][0]["message"]


async def test_backup_codes_work_once(gateway: Client, member: dict[str, Any]) -> None:
    _, backup_codes = await _enrol(gateway, member)
    await login(gateway, member["email"], PASSWORD, backup_codes[0].upper())
    again = await gateway(
        LOGIN, {"email": member["email"], "password": PASSWORD, "code": backup_codes[0]}
    )
    assert error_codes(again) == ["UNAUTHENTICATED"]
    await login(gateway, member["email"], PASSWORD, backup_codes[1])


async def test_disable_needs_a_code_and_mfa_is_session_only(
    gateway: Client, member: dict[str, Any]
) -> None:
    _, backup_codes = await _enrol(gateway, member)
    refused = await gateway(DISABLE, {"c": "999999"}, token=member["token"])
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    done = await gateway(DISABLE, {"c": backup_codes[2]}, token=member["token"])
    assert done["data"]["disableTotp"] is True
    await login(gateway, member["email"], PASSWORD)
    anonymous = await gateway(START)
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
