"""Operating the platform through the gateway: roles, account administration and the audit
log, each done by a role that may and refused to one that may not, and every admin action of
these tests found in the audit log with the account's state before and after."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from media_gateway.app import Platform
from media_gateway.app.admin import create_admin
from media_gateway.platform.events import Event
from media_gateway.platform.settings import Settings
from media_gateway.subgraphs.identity.services import IdentityServices

from .conftest import PASSWORD, Client, api_key, error_codes

REGISTER = """mutation($e: String!, $p: String!) {
  register(input: {email: $e, password: $p, displayName: "Someone"}) { id } }"""
LOGIN = """mutation($e: String!, $p: String!) {
  login(input: {email: $e, password: $p}) { accessToken refreshToken scopes user { id } } }"""
REFRESH = "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }"
SET_ROLE = """mutation($u: ID!, $r: AccountRole!) {
  adminSetAccountRole(userId: $u, role: $r) { id role } }"""
AUDIT = """query($f: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $f, first: $first, after: $after) {
    edges { cursor node { id action actorId targetType targetId before after detail } }
    pageInfo { hasNextPage endCursor } } }"""
OPERATOR_SCOPES = {
    "accounts:read",
    "accounts:support",
    "accounts:admin",
    "catalog:write",
    "search:admin",
    "recommendations:admin",
    "audit:read",
}


def _services(platform: Platform) -> IdentityServices:
    services = platform["identity"].service
    assert isinstance(services, IdentityServices)
    return services


async def _account(gateway: Client, prefix: str = "member") -> dict[str, Any]:
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
    registered = await gateway(REGISTER, {"e": email, "p": PASSWORD})
    assert "errors" not in registered, registered
    return await _login(gateway, email)


async def _login(gateway: Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    body = await gateway(LOGIN, {"e": email, "p": password})
    assert "errors" not in body, body
    session = body["data"]["login"]
    return {
        "email": email,
        "id": session["user"]["id"],
        "token": session["accessToken"],
        "refresh": session["refreshToken"],
        "scopes": set(session["scopes"]),
    }


async def _admin(gateway: Client, settings: Settings) -> dict[str, Any]:
    """An admin appointed the way the first one is: ``media-gateway admin create``."""
    email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    said = await create_admin(settings, email, PASSWORD, "Operator")
    assert said.startswith(f"Created the account {email}"), said
    return await _login(gateway, email)


async def _audit(gateway: Client, token: str, **where: Any) -> list[dict[str, Any]]:
    body = await gateway(AUDIT, {"f": where, "first": 200}, token=token)
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["auditLog"]["edges"]]


async def test_roles_are_assigned_by_admins_and_carried_into_session_scopes(
    gateway: Client, settings: Settings
) -> None:
    admin = await _admin(gateway, settings)
    assert admin["scopes"] >= OPERATOR_SCOPES
    member = await _account(gateway)
    other = await _account(gateway)
    assert not OPERATOR_SCOPES & member["scopes"]

    # a member may not assign roles, not even to itself
    for target in (member["id"], other["id"]):
        refused = await gateway(SET_ROLE, {"u": target, "r": "ADMIN"}, token=member["token"])
        assert error_codes(refused) == ["FORBIDDEN"], refused
    # an admin may; the account's sessions end at once
    done = await gateway(SET_ROLE, {"u": member["id"], "r": "SUPPORT"}, token=admin["token"])
    assert done["data"]["adminSetAccountRole"] == {"id": member["id"], "role": "SUPPORT"}
    assert error_codes(await gateway("{ me { id } }", token=member["token"])) == ["UNAUTHENTICATED"]
    support = await _login(gateway, member["email"])
    assert support["scopes"] & OPERATOR_SCOPES == {
        "accounts:read",
        "accounts:support",
        "audit:read",
    }
    # support may not assign roles (accounts:admin) but may find accounts
    refused = await gateway(SET_ROLE, {"u": other["id"], "r": "ADMIN"}, token=support["token"])
    assert error_codes(refused) == ["FORBIDDEN"]
    found = await gateway(
        "query($q: String) { adminAccounts(query: $q) { edges { node { id role } } } }",
        {"q": other["email"][:14].upper()},
        token=support["token"],
    )
    assert found["data"]["adminAccounts"]["edges"] == [
        {"node": {"id": other["id"], "role": "MEMBER"}}
    ]
    # an admin cannot change its own role (another admin must)
    own = await gateway(SET_ROLE, {"u": admin["id"], "r": "MEMBER"}, token=admin["token"])
    assert error_codes(own) == ["FORBIDDEN"]
    unknown = await gateway(SET_ROLE, {"u": "no-such-account", "r": "ADMIN"}, token=admin["token"])
    assert error_codes(unknown) == ["NOT_FOUND"]

    # operator scopes never reach a key a member creates; an admin may grant them explicitly
    for scopes in (["audit:read"], ["catalog:read", "accounts:read"]):
        body = await gateway(
            """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }""",
            {"i": {"name": "ops", "scopes": scopes}},
            token=admin["token"],
        )
        assert error_codes(body) == ["BAD_USER_INPUT"], body
    secret = await api_key(gateway, admin["token"], ["catalog:read"])
    keys = await gateway("{ apiKeys { id } }", token=admin["token"])
    key_id = keys["data"]["apiKeys"][0]["id"]
    key_headers = {"x-api-key": secret}
    assert error_codes(await gateway(AUDIT, {}, headers=key_headers)) == ["FORBIDDEN"]
    grant = """mutation($k: ID!, $s: [String!]!) {
      adminGrantApiKeyScopes(keyId: $k, scopes: $s) { scopes } }"""
    refused = await gateway(grant, {"k": key_id, "s": ["audit:read"]}, token=support["token"])
    assert error_codes(refused) == ["FORBIDDEN"]
    bad = await gateway(grant, {"k": key_id, "s": ["sync:write"]}, token=admin["token"])
    assert error_codes(bad) == ["BAD_USER_INPUT"]
    granted = await gateway(grant, {"k": key_id, "s": ["audit:read"]}, token=admin["token"])
    assert granted["data"]["adminGrantApiKeyScopes"]["scopes"] == ["audit:read", "catalog:read"]
    read = await gateway(AUDIT, {"f": {"actionPrefix": "api_key."}}, headers=key_headers)
    assert "errors" not in read, read
    # ...and only that scope: the key still cannot find accounts
    assert error_codes(
        await gateway("{ adminAccounts { edges { cursor } } }", headers=key_headers)
    ) == ["FORBIDDEN"]

    # the audit log shows each admin action of this test, with before and after
    entries = await _audit(gateway, admin["token"], actorId=admin["id"])
    assigned = [e for e in entries if e["action"] == "account.role.assign"]
    assert [(e["targetId"], e["before"]["role"], e["after"]["role"]) for e in assigned] == [
        (member["id"], "member", "support")
    ]
    grants = [e for e in entries if e["action"] == "api_key.scopes.grant"]
    assert [(g["before"]["scopes"], g["after"]["scopes"]) for g in grants] == [
        (["catalog:read"], ["audit:read", "catalog:read"])
    ]
    created = await _audit(
        gateway, admin["token"], actionPrefix="account.role.", targetId=admin["id"]
    )
    assert created and created[0]["actorId"] is None
    assert created[0]["detail"]["via"] == "command line"
    assert created[0]["after"]["role"] == "admin"
    # refused attempts changed nothing and wrote no admin entry
    assert not await _audit(gateway, admin["token"], actionPrefix="account.", targetId=other["id"])


async def test_support_revokes_locks_and_forces_a_password_reset(
    gateway: Client, platform: Platform, settings: Settings
) -> None:
    admin = await _admin(gateway, settings)
    support = await _account(gateway, "support")
    assert "errors" not in await gateway(
        SET_ROLE, {"u": support["id"], "r": "SUPPORT"}, token=admin["token"]
    )
    support = await _login(gateway, support["email"])
    member = await _account(gateway)
    second = await _login(gateway, member["email"])  # a second session of the member

    sessions = """query($u: ID!) { adminAccount(id: $u) {
      email role lockedAt sessions { id clientId startedAt } } }"""
    # a member may not look at accounts; support may
    assert error_codes(await gateway(sessions, {"u": member["id"]}, token=member["token"])) == [
        "FORBIDDEN"
    ]
    seen = await gateway(sessions, {"u": member["id"]}, token=support["token"])
    account = seen["data"]["adminAccount"]
    assert account["email"] == member["email"] and account["lockedAt"] is None
    assert len(account["sessions"]) == 2

    # revoking one session: its token is refused at once, the other still works
    revoke = "mutation($u: ID!, $s: ID) { adminRevokeSessions(userId: $u, sessionId: $s) }"
    assert error_codes(await gateway(revoke, {"u": member["id"]}, token=member["token"])) == [
        "FORBIDDEN"
    ]
    tokens_of = {}
    for session in (member, second):
        me = await gateway("{ me { id } }", token=session["token"])
        tokens_of[session["token"]] = me["data"]["me"]["id"]
    newest = account["sessions"][0]["id"]
    done = await gateway(revoke, {"u": member["id"], "s": newest}, token=support["token"])
    assert done["data"]["adminRevokeSessions"] == 1
    assert error_codes(await gateway("{ me { id } }", token=second["token"])) == ["UNAUTHENTICATED"]
    assert "errors" not in await gateway("{ me { id } }", token=member["token"])
    missing = await gateway(
        revoke, {"u": member["id"], "s": "not-a-session"}, token=support["token"]
    )
    assert error_codes(missing) == ["NOT_FOUND"]

    # locking: existing sessions end, no sign-in, no refresh, until unlocked
    lock = 'mutation($u: ID!) { adminLockAccount(userId: $u, reason: "chargeback") { lockedAt } }'
    unlock = "mutation($u: ID!) { adminUnlockAccount(userId: $u) { lockedAt } }"
    assert error_codes(await gateway(lock, {"u": support["id"]}, token=member["token"])) == [
        "FORBIDDEN"
    ]
    locked = await gateway(lock, {"u": member["id"]}, token=support["token"])
    assert locked["data"]["adminLockAccount"]["lockedAt"] is not None
    assert error_codes(await gateway("{ me { id } }", token=member["token"])) == ["UNAUTHENTICATED"]
    assert error_codes(await gateway(LOGIN, {"e": member["email"], "p": PASSWORD})) == [
        "ACCOUNT_LOCKED"
    ]
    assert error_codes(await gateway(REFRESH, {"t": member["refresh"]})) == ["UNAUTHENTICATED"]
    unlocked = await gateway(unlock, {"u": member["id"]}, token=support["token"])
    assert unlocked["data"]["adminUnlockAccount"]["lockedAt"] is None
    member = await _login(gateway, member["email"])

    # a forced reset: the password stops working, sessions end, a link goes out by email
    force = "mutation($u: ID!) { adminForcePasswordReset(userId: $u) { id } }"
    assert error_codes(await gateway(force, {"u": member["id"]}, token=member["token"])) == [
        "FORBIDDEN"
    ]
    assert "errors" not in await gateway(force, {"u": member["id"]}, token=support["token"])
    assert error_codes(await gateway("{ me { id } }", token=member["token"])) == ["UNAUTHENTICATED"]
    assert error_codes(await gateway(LOGIN, {"e": member["email"], "p": PASSWORD})) == [
        "UNAUTHENTICATED"
    ]
    mail = await _services(platform).emails.outbox_for(member["email"])
    reset_mail = [m for m in mail if m.kind == "reset-password"]
    assert reset_mail, "no reset email"
    match = re.search(r"code: (\S+)", reset_mail[0].body)
    assert match
    new_password = "a brand new passphrase here"
    reset = await gateway(
        "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }",
        {"t": match.group(1), "p": new_password},
    )
    assert reset["data"]["resetPassword"] is True, reset
    member = await _login(gateway, member["email"], new_password)

    # the audit log: every one of support's actions, with the account before and after
    entries = await _audit(gateway, admin["token"], actorId=support["id"], targetId=member["id"])
    actions = [e["action"] for e in reversed(entries)]
    assert actions == [
        "account.sessions.revoke",
        "account.lock",
        "account.unlock",
        "account.password_reset.force",
    ]
    by_action = {e["action"]: e for e in entries}
    assert by_action["account.lock"]["before"]["lockedAt"] is None
    assert by_action["account.lock"]["after"]["lockedAt"] is not None
    assert by_action["account.lock"]["detail"]["reason"] == "chargeback"
    assert by_action["account.unlock"]["after"]["lockedAt"] is None
    # and the security events around them
    security = [e["action"] for e in await _audit(gateway, admin["token"], targetId=member["id"])]
    assert "auth.sign_in_failed" in security and "auth.password_reset" in security
    # support may read the audit log; a member may not
    assert error_codes(await gateway(AUDIT, {}, token=member["token"])) == ["FORBIDDEN"]
    assert "errors" not in await gateway(AUDIT, {"first": 1}, token=support["token"])


async def test_account_deletion_waits_for_its_grace_period_and_tells_other_services(
    gateway: Client, platform: Platform, settings: Settings
) -> None:
    admin = await _admin(gateway, settings)
    member = await _account(gateway)
    heard: list[Event] = []

    async def listen(event: Event) -> None:
        heard.append(event)

    platform.runtime.events.subscribe("identity.accounts", listen)
    schedule = (
        "mutation($u: ID!) { adminScheduleAccountDeletion(userId: $u) { deletionDueAt lockedAt } }"
    )
    cancel = (
        "mutation($u: ID!) { adminCancelAccountDeletion(userId: $u) { deletionDueAt lockedAt } }"
    )
    support = await _account(gateway, "support")
    await gateway(SET_ROLE, {"u": support["id"], "r": "SUPPORT"}, token=admin["token"])
    support = await _login(gateway, support["email"])
    for caller in (member, support):  # accounts:admin only
        assert error_codes(await gateway(schedule, {"u": member["id"]}, token=caller["token"])) == [
            "FORBIDDEN"
        ]
    scheduled = await gateway(schedule, {"u": member["id"]}, token=admin["token"])
    due = datetime.fromisoformat(scheduled["data"]["adminScheduleAccountDeletion"]["deletionDueAt"])
    grace = timedelta(days=settings.account_deletion_grace_days)
    assert abs(due - (datetime.now(UTC) + grace)) < timedelta(minutes=5)
    assert error_codes(await gateway(LOGIN, {"e": member["email"], "p": PASSWORD})) == [
        "ACCOUNT_LOCKED"
    ]
    administration = _services(platform).administration
    assert await administration.delete_due() == []  # not due yet
    cancelled = await gateway(cancel, {"u": member["id"]}, token=admin["token"])
    assert cancelled["data"]["adminCancelAccountDeletion"] == {
        "deletionDueAt": None,
        "lockedAt": None,
    }
    signed_in = await _login(gateway, member["email"])
    await _keep_data(gateway, signed_in["token"])
    assert all(await _rows_of(platform, member["id"]))

    # scheduled again, with no grace left: deleted with its data, and the others are told
    await gateway(schedule, {"u": member["id"]}, token=admin["token"])
    administration.deletion_grace = timedelta(0)
    try:
        await gateway(cancel, {"u": member["id"]}, token=admin["token"])
        await gateway(schedule, {"u": member["id"]}, token=admin["token"])
        assert await administration.delete_due() == [member["id"]]
    finally:
        administration.deletion_grace = grace
    gone = await gateway(
        "query($u: ID!) { adminAccount(id: $u) { id } }", {"u": member["id"]}, token=admin["token"]
    )
    assert gone["data"]["adminAccount"] is None
    assert error_codes(await gateway(LOGIN, {"e": member["email"], "p": PASSWORD})) == [
        "UNAUTHENTICATED"
    ]
    await _heard(heard, 1)
    assert [(e.key, e.payload["type"]) for e in heard] == [(member["id"], "account.deleted")]
    # every service deleted what it kept of the account (on the same event, before ours)
    assert await _rows_of(platform, member["id"]) == [0] * len(KEPT_BY_SERVICES)

    actions = [
        (e["action"], e["actorId"])
        for e in reversed(
            await _audit(
                gateway, admin["token"], targetId=member["id"], actionPrefix="account.delete"
            )
        )
    ]
    assert actions == [
        ("account.delete.schedule", admin["id"]),
        ("account.delete.cancel", admin["id"]),
        ("account.delete.schedule", admin["id"]),
        ("account.delete.cancel", admin["id"]),
        ("account.delete.schedule", admin["id"]),
        ("account.delete", None),
    ]


# tables of the other services that keep a member's data
KEPT_BY_SERVICES = (
    "sync_devices",
    "sync_watchlist",
    "playback_sessions",
)


async def _keep_data(gateway: Client, token: str) -> None:
    """A device, a watchlist entry and a playback in the other services."""
    found = await gateway('{ search(query: "", first: 1) { edges { node { id } } } }')
    title = found["data"]["search"]["edges"][0]["node"]["id"]
    device = await gateway('mutation { registerDevice(name: "TV", kind: TV) { id } }', token=token)
    device_id = device["data"]["registerDevice"]["id"]
    for document in (
        "mutation($c: ID!) { addToWatchlist(contentId: $c) { id } }",
        "mutation($c: ID!, $d: ID!) { startPlayback(contentId: $c, deviceId: $d) { id } }",
    ):
        body = await gateway(document, {"c": title, "d": device_id}, token=token)
        assert "errors" not in body, body


async def _rows_of(platform: Platform, user_id: str) -> list[int]:
    from sqlalchemy import text

    counts = []
    async with platform.runtime.database.session() as session:
        for table in KEPT_BY_SERVICES:
            result = await session.exec(  # type: ignore[call-overload]
                text(f"SELECT count(*) FROM {table} WHERE user_id = :u"), params={"u": user_id}
            )
            counts.append(int(result.one()[0]))
    return counts


async def _heard(heard: list[Event], count: int) -> None:
    """Wait for the audit relay (it runs every second) to have published ``count`` events."""
    for _ in range(300):
        if len(heard) >= count:
            return
        await asyncio.sleep(0.1)


EXPORT = """query($u: ID!) { adminAccountExport(userId: $u) {
  id email displayName createdAt
  profiles { id name kids }
  user {
    adminWatchHistory(first: 50) {
      totalCount edges { node { content { id } watchedAt positionSeconds completed } } }
    adminWatchlist { profileId content { id } addedAt }
    adminDevices { id name } } } }"""


async def test_support_exports_a_members_data_in_one_federated_query(
    gateway: Client, settings: Settings
) -> None:
    admin = await _admin(gateway, settings)
    support = await _account(gateway, "support")
    await gateway(SET_ROLE, {"u": support["id"], "r": "SUPPORT"}, token=admin["token"])
    support = await _login(gateway, support["email"])
    member = await _account(gateway)
    found = await gateway('{ search(query: "", first: 1) { edges { node { id } } } }')
    title = found["data"]["search"]["edges"][0]["node"]["id"]
    device = await gateway(
        'mutation { registerDevice(name: "TV", kind: TV) { id } }', token=member["token"]
    )
    started = await gateway(
        "mutation($c: ID!, $d: ID!) { startPlayback(contentId: $c, deviceId: $d) { id } }",
        {"c": title, "d": device["data"]["registerDevice"]["id"]},
        token=member["token"],
    )
    saved = await gateway(
        "mutation($c: ID!) { addToWatchlist(contentId: $c) { id } }",
        {"c": title},
        token=member["token"],
    )
    assert "errors" not in saved, saved
    ended = await gateway(
        "mutation($s: ID!) { endPlayback(sessionId: $s) { id } }",
        {"s": started["data"]["startPlayback"]["id"]},
        token=member["token"],
    )
    assert "errors" not in ended, ended

    # a member may not export anyone's data through these fields, not even its own
    for target in (member["id"], support["id"]):
        refused = await gateway(EXPORT, {"u": target}, token=member["token"])
        assert error_codes(refused) == ["FORBIDDEN"]
        assert (refused["data"] or {}).get("adminAccountExport") is None
    exported = await gateway(EXPORT, {"u": member["id"]}, token=support["token"])
    assert "errors" not in exported, exported
    data = exported["data"]["adminAccountExport"]
    assert data["email"] == member["email"]
    history = data["user"]["adminWatchHistory"]
    assert history["totalCount"] == 1
    assert history["edges"][0]["node"]["content"]["id"] == title
    assert [e["content"]["id"] for e in data["user"]["adminWatchlist"]] == [title]
    assert [d["id"] for d in data["user"]["adminDevices"]] == [
        device["data"]["registerDevice"]["id"]
    ]
    # support sees the devices beside the account; a member does not
    devices = """query($u: ID!) { adminAccount(id: $u) { user { adminDevices { id } } } }"""
    seen = await gateway(devices, {"u": member["id"]}, token=support["token"])
    assert len(seen["data"]["adminAccount"]["user"]["adminDevices"]) == 1
    assert error_codes(await gateway(devices, {"u": member["id"]}, token=member["token"])) == [
        "FORBIDDEN"
    ]
    missing = await gateway(EXPORT, {"u": "no-such-account"}, token=support["token"])
    assert error_codes(missing) == ["NOT_FOUND"]

    entries = await _audit(gateway, admin["token"], actionPrefix="account.export")
    assert [(e["actorId"], e["targetId"]) for e in entries if e["targetId"] == member["id"]] == [
        (support["id"], member["id"])
    ]


async def test_security_events_are_in_the_audit_log(
    gateway: Client, identity_app: Client, settings: Settings
) -> None:
    """Sign-ins and failures, MFA changes, API keys and OAuth grants, each with its actor."""
    import pyotp

    from .conftest import oauth_token

    admin = await _admin(gateway, settings)
    member = await _account(gateway)
    token = member["token"]
    wrong = await gateway(LOGIN, {"e": member["email"], "p": "not the password at all"})
    assert error_codes(wrong) == ["UNAUTHENTICATED"]
    await api_key(gateway, token, ["catalog:read"])
    keys = await gateway("{ apiKeys { id } }", token=token)
    key_id = keys["data"]["apiKeys"][0]["id"]
    revoked = await gateway(
        "mutation($k: ID!) { revokeApiKey(id: $k) }", {"k": key_id}, token=token
    )
    assert revoked["data"]["revokeApiKey"] is True
    await oauth_token(gateway, identity_app, token, "catalog:read")
    started = await gateway("mutation { startTotpEnrolment { secret } }", token=token)
    secret = started["data"]["startTotpEnrolment"]["secret"]
    confirmed = await gateway(
        "mutation($c: String!) { confirmTotpEnrolment(code: $c) { backupCodes } }",
        {"c": pyotp.TOTP(secret).now()},
        token=token,
    )
    backup = confirmed["data"]["confirmTotpEnrolment"]["backupCodes"][0]
    disabled = await gateway(
        "mutation($c: String!) { disableTotp(code: $c) }", {"c": backup}, token=token
    )
    assert disabled["data"]["disableTotp"] is True

    entries = await _audit(gateway, admin["token"], actorId=member["id"])
    actions = [e["action"] for e in reversed(entries)]
    assert actions == [
        "auth.sign_in",
        "api_key.create",
        "api_key.revoke",
        "oauth.grant",
        "mfa.enable",
        "mfa.disable",
    ], actions
    by_action = {e["action"]: e for e in entries}
    assert by_action["api_key.revoke"]["targetId"] == key_id
    assert by_action["api_key.revoke"]["before"]["revokedAt"] is None
    assert by_action["api_key.revoke"]["after"]["revokedAt"] is not None
    assert by_action["oauth.grant"]["after"]["clientId"]
    assert by_action["oauth.grant"]["after"]["scopes"] == ["catalog:read"]
    assert by_action["mfa.enable"]["after"] == {"mfaEnabled": True}
    failed = await _audit(
        gateway, admin["token"], actionPrefix="auth.sign_in_failed", targetId=member["id"]
    )
    assert [(f["actorId"], f["detail"]["reason"]) for f in failed] == [(None, "password")]
    # a member reads none of it
    assert error_codes(await gateway(AUDIT, {}, token=token)) == ["FORBIDDEN"]
