"""Account administration by operators: roles, finding accounts and their sessions, revoking
sessions, locking, forcing a password reset, deleting an account after a grace period, and
granting operator scopes to an API key. Every change is written to the audit log (with the
account's state before and after) in the transaction of the change.

Operators act on other accounts only: an operator's own role, lock and deletion are another
admin's to change, so that no admin can lock the platform out by mistake.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, col, func, or_, select

from media_gateway.auth.callers import forget_api_key
from media_gateway.auth.scopes import DELEGABLE_SCOPES, OPERATOR_SCOPES, ROLES
from media_gateway.storage.audit import (
    AuditEntryRecord,
    AuditFilter,
    read_audit,
    record_audit,
    record_event,
)
from media_gateway.storage.erasure import ACCOUNT_DELETED, ACCOUNTS_TOPIC
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.identity.accounts import EMAIL_PATTERN, Account, AccountService
from media_gateway.subgraphs.identity.api_keys import ApiKey
from media_gateway.subgraphs.identity.common import IdentityError, IdentityStores, normalize_email
from media_gateway.subgraphs.identity.emails import IdentityEmails
from media_gateway.subgraphs.identity.models import ApiKeyRecord, RefreshTokenRecord, UserRecord
from media_gateway.subgraphs.identity.passwords import hash_password
from media_gateway.subgraphs.identity.revocations import SessionEnds

DEFAULT_DELETION_GRACE = timedelta(days=14)
MAX_QUERY_LENGTH = 200


@dataclass(frozen=True)
class AccountSession:
    """A session of an account (a refresh-token family), as an operator sees it."""

    id: str
    client_id: str | None
    profile_id: str | None
    started_at: datetime
    last_refreshed_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class AccountPage:
    accounts: list[Account]
    has_next_page: bool


def _state(record: UserRecord) -> dict[str, Any]:
    """What the audit log keeps of an account's administrative state."""
    return {
        "email": record.email,
        "role": record.role,
        "lockedAt": record.locked_at,
        "deletionDueAt": record.deletion_due_at,
    }


class AdministrationService:
    def __init__(
        self,
        stores: IdentityStores,
        accounts: AccountService,
        emails: IdentityEmails,
        ends: SessionEnds,
        *,
        deletion_grace: timedelta = DEFAULT_DELETION_GRACE,
    ) -> None:
        self.stores = stores
        self.accounts = accounts
        self.emails = emails
        self.ends = ends
        self.deletion_grace = deletion_grace

    # -- finding accounts ----------------------------------------------------------------
    async def find_accounts(
        self, query: str | None, *, first: int, after: str | None = None
    ) -> AccountPage:
        """Accounts whose email or display name contains ``query`` (any case), by email;
        ``after``: the email of the last account of the previous page."""
        text = (query or "").strip().lower()
        if len(text) > MAX_QUERY_LENGTH:
            raise IdentityError(
                f"Search with at most {MAX_QUERY_LENGTH} characters.", field="query"
            )
        statement = select(UserRecord)
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern += "%"
            statement = statement.where(
                or_(
                    col(UserRecord.email).like(pattern, escape="\\"),
                    func.lower(col(UserRecord.display_name)).like(pattern, escape="\\"),
                )
            )
        if after:
            statement = statement.where(col(UserRecord.email) > after)
        statement = statement.order_by(col(UserRecord.email)).limit(first + 1)
        async with self.stores.database.session() as session:
            rows = list((await session.exec(statement)).all())
        return AccountPage([Account.of(r) for r in rows[:first]], len(rows) > first)

    async def account(self, user_id: str) -> Account | None:
        found = await self.accounts.accounts([user_id])
        return found[0] if found else None

    async def sessions_of(self, user_id: str) -> list[AccountSession]:
        """The account's sessions that can still be refreshed, newest first."""
        now = utcnow()
        async with self.stores.database.session() as session:
            rows = list(
                (
                    await session.exec(
                        select(RefreshTokenRecord)
                        .where(RefreshTokenRecord.user_id == user_id)
                        .order_by(col(RefreshTokenRecord.created_at))
                    )
                ).all()
            )
        families: dict[str, list[RefreshTokenRecord]] = {}
        for row in rows:
            families.setdefault(row.family_id, []).append(row)
        live = []
        for family_id, tokens in families.items():
            current = [
                t
                for t in tokens
                if t.used_at is None and t.revoked_at is None and as_utc(t.expires_at) > now
            ]
            if not current:
                continue
            newest = current[-1]
            live.append(
                AccountSession(
                    id=family_id,
                    client_id=newest.client_id,
                    profile_id=newest.profile_id,
                    started_at=as_utc(tokens[0].created_at),
                    last_refreshed_at=as_utc(newest.created_at),
                    expires_at=as_utc(newest.expires_at),
                )
            )
        return sorted(live, key=lambda s: s.last_refreshed_at, reverse=True)

    async def export_account(self, actor_id: str, user_id: str) -> Account:
        """The account whose data an operator exports (the export is written to the audit
        log: ``account.export``)."""
        async with self.stores.database.transaction() as session:
            record = await session.get(UserRecord, user_id)
            if record is None:
                raise IdentityError("No such account.", "NOT_FOUND", "userId")
            await record_audit(
                session,
                actor_id=actor_id,
                action="account.export",
                target_type="account",
                target_id=user_id,
                before=_state(record),
                after=_state(record),
            )
        return Account.of(record)

    async def audit_entries(
        self, where: AuditFilter, *, first: int, after_id: int | None = None
    ) -> tuple[list[AuditEntryRecord], bool]:
        """A page of the audit log, newest first, and whether there is a next one."""
        if where.action_prefix is not None and len(where.action_prefix) > 80:
            raise IdentityError("An action prefix has at most 80 characters.", field="filter")
        rows = await read_audit(self.stores.database, where, first=first, after_id=after_id)
        return rows[:first], len(rows) > first

    # -- changes -------------------------------------------------------------------------
    async def set_role(self, actor_id: str, user_id: str, role: str) -> Account:
        """Assign a role; the account's sessions end, so that its tokens carry the new
        role's scopes from its next sign-in on (and lose the old role's at once)."""
        if role not in ROLES:
            raise IdentityError("Choose one of the roles: " + ", ".join(ROLES) + ".", field="role")
        return await self._change(
            actor_id, user_id, "account.role.assign", lambda r: setattr(r, "role", role), True
        )

    async def lock(self, actor_id: str, user_id: str, reason: str | None = None) -> Account:
        """Lock the account: no sign-in, no refresh; its sessions end at once."""
        if reason is not None and len(reason) > 500:
            raise IdentityError("Give a reason of at most 500 characters.", field="reason")

        def locked(record: UserRecord) -> None:
            record.locked_at = record.locked_at or utcnow()

        return await self._change(
            actor_id, user_id, "account.lock", locked, True, {"reason": reason}
        )

    async def unlock(self, actor_id: str, user_id: str) -> Account:
        return await self._change(
            actor_id, user_id, "account.unlock", lambda r: setattr(r, "locked_at", None), False
        )

    async def force_password_reset(self, actor_id: str, user_id: str) -> Account:
        """The current password stops working and every session ends; the owner gets an
        email with a link to choose a new one."""
        unusable = await hash_password(secrets.token_urlsafe(32))

        def reset(record: UserRecord) -> None:
            record.password_hash = unusable
            record.password_changed_at = utcnow()

        account = await self._change(actor_id, user_id, "account.password_reset.force", reset, True)
        user = await self.accounts.record(user_id)
        await self.emails.send_password_reset(user)
        return account

    async def schedule_deletion(self, actor_id: str, user_id: str) -> Account:
        """Delete the account and its data once the grace period has passed (cancellable
        until then); its sessions end now and it cannot sign in meanwhile."""
        now = utcnow()

        def scheduled(record: UserRecord) -> None:
            if record.deletion_due_at is None:
                record.deletion_due_at = now + self.deletion_grace
                # locked by the scheduling: then locked_at + the grace is the due time
                record.locked_at = record.locked_at or now

        return await self._change(actor_id, user_id, "account.delete.schedule", scheduled, True)

    async def cancel_deletion(self, actor_id: str, user_id: str) -> Account:
        def cancelled(record: UserRecord) -> None:
            if record.deletion_due_at is None:
                raise IdentityError("This account is not scheduled for deletion.", "NOT_FOUND")
            if record.locked_at is not None and as_utc(
                record.locked_at
            ) + self.deletion_grace == as_utc(record.deletion_due_at):
                record.locked_at = None  # the lock came with the deletion; an earlier one stays
            record.deletion_due_at = None

        return await self._change(actor_id, user_id, "account.delete.cancel", cancelled, False)

    async def _change(
        self,
        actor_id: str,
        user_id: str,
        action: str,
        change: Any,
        end_sessions: bool,
        detail: dict[str, Any] | None = None,
    ) -> Account:
        if actor_id == user_id:
            raise IdentityError(
                "Operators cannot change their own account this way; ask another admin.",
                "FORBIDDEN",
            )
        now = utcnow()
        ended = []
        async with self.stores.database.transaction() as session:
            record = await session.get(UserRecord, user_id)
            if record is None:
                raise IdentityError("No such account.", "NOT_FOUND", "userId")
            before = _state(record)
            change(record)
            session.add(record)
            if end_sessions:
                ended = await self.ends.end_every_session(session, user_id, now)
            await record_audit(
                session,
                actor_id=actor_id,
                action=action,
                target_type="account",
                target_id=user_id,
                before=before,
                after=_state(record),
                detail={**(detail or {}), "sessionsEnded": len(ended)},
            )
        await self.ends.announce(ended)
        return Account.of(record)

    async def revoke_sessions(
        self, actor_id: str, user_id: str, session_id: str | None = None
    ) -> int:
        """End one session of the account (``session_id``) or all of them, at once (every
        service refuses their tokens from now on); returns how many ended."""
        now = utcnow()
        async with self.stores.database.transaction() as session:
            record = await session.get(UserRecord, user_id)
            if record is None:
                raise IdentityError("No such account.", "NOT_FOUND", "userId")
            if session_id is None:
                ended = await self.ends.end_every_session(session, user_id, now)
            else:
                owned = (
                    await session.exec(
                        select(RefreshTokenRecord.id)
                        .where(RefreshTokenRecord.family_id == session_id)
                        .where(RefreshTokenRecord.user_id == user_id)
                        .limit(1)
                    )
                ).first()
                if owned is None:
                    raise IdentityError(
                        "This account has no such session.", "NOT_FOUND", "sessionId"
                    )
                ended = await self.ends.end_family(session, user_id, session_id, now)
            await record_audit(
                session,
                actor_id=actor_id,
                action="account.sessions.revoke",
                target_type="account",
                target_id=user_id,
                before={"session": session_id or "all"},
                after={"sessionsEnded": len(ended)},
            )
        await self.ends.announce(ended)
        return len(ended)

    async def grant_api_key_scopes(
        self, actor_id: str, key_id: str, scopes: Sequence[str]
    ) -> ApiKey:
        """Set the operator scopes of an API key (its delegable scopes stay as its owner
        chose them); an empty list takes them all away."""
        wanted = frozenset(scopes)
        unknown = wanted - frozenset(OPERATOR_SCOPES)
        if unknown:
            raise IdentityError(
                "Choose operator scopes among: " + ", ".join(sorted(OPERATOR_SCOPES)) + ".",
                field="scopes",
            )
        async with self.stores.database.transaction() as session:
            record = await session.get(ApiKeyRecord, key_id)
            if record is None:
                raise IdentityError("No such API key.", "NOT_FOUND", "keyId")
            if record.revoked_at is not None:
                raise IdentityError("This API key was revoked.", "BAD_USER_INPUT", "keyId")
            before = sorted(record.scopes.split())
            kept = [s for s in before if s in DELEGABLE_SCOPES]
            record.scopes = " ".join(sorted({*kept, *wanted}))
            session.add(record)
            await record_audit(
                session,
                actor_id=actor_id,
                action="api_key.scopes.grant",
                target_type="api_key",
                target_id=record.id,
                before={"userId": record.user_id, "scopes": before},
                after={"userId": record.user_id, "scopes": sorted(record.scopes.split())},
            )
            digest = record.key_hash
        forget_api_key(digest)
        return ApiKey.of(record)

    # -- deletion after the grace period ---------------------------------------------------
    async def delete_due(self) -> list[str]:
        """Delete the accounts whose deletion is due, with everything identity keeps for
        them; other services hear of it on ``identity.accounts`` (``account.deleted``) and
        delete theirs. Returns the deleted accounts' ids."""
        async with self.stores.database.session() as session:
            due = list(
                (
                    await session.exec(
                        select(UserRecord.id).where(col(UserRecord.deletion_due_at) <= utcnow())
                    )
                ).all()
            )
        deleted = []
        for user_id in due:
            if await self._delete(str(user_id)):
                deleted.append(str(user_id))
        return deleted

    async def _delete(self, user_id: str) -> bool:
        now = utcnow()
        users: sa.Table = UserRecord.__table__  # type: ignore[attr-defined]
        async with self.stores.database.transaction() as session:
            record = await session.get(UserRecord, user_id)
            if record is None or record.deletion_due_at is None:
                return False
            if as_utc(record.deletion_due_at) > now:
                return False
            before = _state(record)
            ended = await self.ends.end_every_session(session, user_id, now)
            # every table that refers to the account (profiles, keys, sessions, linked
            # sign-ins...), then the account
            for table in reversed(SQLModel.metadata.sorted_tables):
                for fk in table.foreign_keys:
                    if fk.column.table is users and table is not users:
                        await session.exec(sa.delete(table).where(fk.parent == user_id))
            await session.delete(record)
            await record_audit(
                session,
                actor_id=None,
                action="account.delete",
                target_type="account",
                target_id=user_id,
                before=before,
                after=None,
            )
            record_event(session, ACCOUNTS_TOPIC, user_id, account_deleted(user_id))
        await self.ends.announce(ended)
        return True

    # -- the first admin, from the command line ------------------------------------------
    async def ensure_admin(
        self, email: str, password: str | None, display_name: str | None = None
    ) -> tuple[Account, bool, str | None]:
        """Make the account of ``email`` an admin, creating it (with ``password``) when it
        does not exist; returns the account, whether it was created and its role before
        (None for a new account)."""
        email = normalize_email(email)
        if not EMAIL_PATTERN.match(email):
            raise IdentityError("Enter a valid email address.", field="email")
        created = False
        existing = await self.accounts.record_by_email(email)
        if existing is None:
            if not password:
                raise IdentityError(
                    "There is no account with this email yet: give a password for it.",
                    field="password",
                )
            account = await self.accounts.register(
                email,
                password,
                display_name or email.split("@")[0],
                user_id=None,
                rate_limited=False,
                send_verification=False,
            )
            existing = await self.accounts.record_by_email(email)
            if existing is None:  # pragma: no cover - registered a moment ago
                raise IdentityError("The account could not be created.", "INTERNAL")
            created = account.id == existing.id
        previous = None if created else existing.role
        if existing.role == "admin":
            return Account.of(existing), created, previous
        async with self.stores.database.transaction() as session:
            record = await session.get(UserRecord, existing.id)
            assert record is not None
            before = _state(record)
            record.role = "admin"
            session.add(record)
            ended = await self.ends.end_every_session(session, record.id, utcnow())
            await record_audit(
                session,
                actor_id=None,
                action="account.role.assign",
                target_type="account",
                target_id=record.id,
                before=before,
                after=_state(record),
                detail={"via": "command line", "created": created},
            )
        await self.ends.announce(ended)
        return Account.of(record), created, previous


def account_deleted(user_id: str) -> dict[str, Any]:
    """The event other services delete an account's data on."""
    return {"type": ACCOUNT_DELETED, "userId": user_id, "occurredAt": utcnow().isoformat()}
