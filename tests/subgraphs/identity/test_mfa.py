"""Two-step sign-in (TOTP, RFC 6238): enrolment, codes required, replays
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


async def _enrol(graph: Client, account: dict[str, Any]) -> tuple[str, list[str]]:
    secret, backup_codes, _ = await _enrol_at(graph, account)
    return secret, backup_codes


async def _enrol_at(graph: Client, account: dict[str, Any]) -> tuple[str, list[str], float]:
    """Enrol; also returns the moment whose code confirmed the enrolment."""
    started = (await graph(START, token=account["token"]))["data"]["startTotpEnrolment"]
    uri = urlsplit(started["provisioningUri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert parse_qs(uri.query)["secret"] == [started["secret"]]
    wrong = await graph(CONFIRM, {"c": "000000"}, token=account["token"])
    assert error_codes(wrong) == ["BAD_USER_INPUT"]
    at = time.time()
    confirmed = await graph(CONFIRM, {"c": _code(started["secret"], at=at)}, token=account["token"])
    assert "errors" not in confirmed, confirmed
    return started["secret"], confirmed["data"]["confirmTotpEnrolment"]["backupCodes"], at


async def test_login_requires_the_code_once_enrolled(
    graph: Client, account: dict[str, Any]
) -> None:
    assert (await graph(MFA, token=account["token"]))["data"]["me"]["mfaEnabled"] is False
    secret, backup_codes = await _enrol(graph, account)
    assert len(backup_codes) == 10 and len(set(backup_codes)) == 10
    assert (await graph(MFA, token=account["token"]))["data"]["me"]["mfaEnabled"] is True
    no_code = await graph(LOGIN, {"email": account["email"], "password": PASSWORD})
    assert error_codes(no_code) == ["MFA_REQUIRED"]
    wrong = await graph(LOGIN, {"email": account["email"], "password": PASSWORD, "code": "123456"})
    assert error_codes(wrong) == ["UNAUTHENTICATED"]
    # the next step's code (the current one was spent on the confirmation)
    session = await login(graph, account["email"], PASSWORD, _code(secret, 1))
    assert session["user"]["id"] == account["id"]


async def test_a_just_used_code_is_refused(graph: Client, account: dict[str, Any]) -> None:
    secret, _, at = await _enrol_at(graph, account)
    # the confirmation code itself cannot sign in (the very same code, even if a 30-second
    # step has begun since)
    replay = await graph(
        LOGIN, {"email": account["email"], "password": PASSWORD, "code": _code(secret, at=at)}
    )
    assert error_codes(replay) == ["UNAUTHENTICATED"]
    code = _code(secret, 1, at=at)
    await login(graph, account["email"], PASSWORD, code)
    again = await graph(LOGIN, {"email": account["email"], "password": PASSWORD, "code": code})
    assert error_codes(again) == ["UNAUTHENTICATED"]
    assert "already used" in again["errors"][0]["message"]


async def test_backup_codes_work_once(graph: Client, account: dict[str, Any]) -> None:
    _, backup_codes = await _enrol(graph, account)
    await login(graph, account["email"], PASSWORD, backup_codes[0].upper())
    again = await graph(
        LOGIN, {"email": account["email"], "password": PASSWORD, "code": backup_codes[0]}
    )
    assert error_codes(again) == ["UNAUTHENTICATED"]
    await login(graph, account["email"], PASSWORD, backup_codes[1])


async def test_disable_needs_a_code_and_mfa_is_session_only(
    graph: Client, account: dict[str, Any]
) -> None:
    _, backup_codes = await _enrol(graph, account)
    refused = await graph(DISABLE, {"c": "999999"}, token=account["token"])
    assert error_codes(refused) == ["BAD_USER_INPUT"]
    done = await graph(DISABLE, {"c": backup_codes[2]}, token=account["token"])
    assert done["data"]["disableTotp"] is True
    await login(graph, account["email"], PASSWORD)
    anonymous = await graph(START)
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
