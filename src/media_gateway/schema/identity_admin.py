"""Identity's operator types: accounts as operators see them, their sessions, and the audit
log (see docs/operating.md)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import Enum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from media_gateway.schema.common import PageInfo, bad_input
from media_gateway.schema.identity import Profile, User
from media_gateway.storage.audit import AuditEntryRecord
from media_gateway.storage.types import as_utc
from media_gateway.subgraphs.identity.accounts import Account
from media_gateway.subgraphs.identity.administration import AccountSession as SessionData


@strawberry.enum(description="What an account may do: a member, or one of the operator roles.")
class AccountRole(Enum):
    MEMBER = "member"
    SUPPORT = "support"
    CATALOG_EDITOR = "catalog_editor"
    ADMIN = "admin"


@strawberry.type(description="A session of an account (a refresh-token family).")
class AccountSession:
    id: strawberry.ID
    client_id: str | None = strawberry.field(description="The third-party app, if delegated.")
    profile_id: strawberry.ID | None
    started_at: datetime
    last_refreshed_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, session: SessionData) -> AccountSession:
        return cls(
            id=strawberry.ID(session.id),
            client_id=session.client_id,
            profile_id=strawberry.ID(session.profile_id) if session.profile_id else None,
            started_at=session.started_at,
            last_refreshed_at=session.last_refreshed_at,
            expires_at=session.expires_at,
        )


@strawberry.type(
    description="An account as operators see it (accounts:read). Its `user` is the member "
    "entity, through which other services' operator fields resolve (e.g. `adminDevices`)."
)
class ManagedAccount:
    id: strawberry.ID
    email: str
    display_name: str
    role: AccountRole
    created_at: datetime
    email_verified: bool
    mfa_enabled: bool
    locked_at: datetime | None
    deletion_due_at: datetime | None = strawberry.field(
        description="When the account and its data will be deleted (cancellable until then)."
    )
    user: User

    @strawberry.field(description="The account's viewing profiles.")
    async def profiles(self, info: strawberry.Info) -> list[Profile]:
        found = await info.context.loaders.profiles.load(str(self.id))
        return [Profile.of(profile) for profile in found]

    @strawberry.field(description="The account's sessions that can still be refreshed.")
    async def sessions(self, info: strawberry.Info) -> list[AccountSession]:
        found = await info.context.administration.sessions_of(str(self.id))
        return [AccountSession.of(s) for s in found]

    @classmethod
    def of(cls, account: Account) -> ManagedAccount:
        return cls(
            id=strawberry.ID(account.id),
            email=account.email,
            display_name=account.display_name,
            role=AccountRole(account.role if account.role in _ROLE_VALUES else "member"),
            created_at=account.created_at,
            email_verified=account.email_verified,
            mfa_enabled=account.mfa_enabled,
            locked_at=account.locked_at,
            deletion_due_at=account.deletion_due_at,
            user=User.of(account),
        )


_ROLE_VALUES = {role.value for role in AccountRole}


@strawberry.type
class ManagedAccountEdge:
    cursor: str
    node: ManagedAccount


@strawberry.type(description="Accounts by email, a page at a time.")
class ManagedAccountConnection:
    edges: list[ManagedAccountEdge]
    page_info: PageInfo


@strawberry.type(description="One entry of the audit log: who did what to what, when.")
class AuditEntry:
    id: strawberry.ID
    occurred_at: datetime
    actor_id: strawberry.ID | None = strawberry.field(
        description="The account that acted; null for the platform itself or an unknown caller."
    )
    action: str = strawberry.field(description="A dotted name, e.g. account.lock.")
    target_type: str
    target_id: str | None
    before: JSON | None
    after: JSON | None
    detail: JSON | None

    @classmethod
    def of(cls, entry: AuditEntryRecord) -> AuditEntry:
        return cls(
            id=strawberry.ID(str(entry.id)),
            occurred_at=as_utc(entry.occurred_at),
            actor_id=strawberry.ID(entry.actor_id) if entry.actor_id else None,
            action=entry.action,
            target_type=entry.target_type,
            target_id=entry.target_id,
            before=cast(JSON, entry.before),
            after=cast(JSON, entry.after),
            detail=cast(JSON, entry.detail),
        )


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type(description="Audit entries, newest first, a page at a time.")
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo


@strawberry.input(description="Which audit entries to read; every condition given must hold.")
class AuditLogFilter:
    actor_id: strawberry.ID | None = None
    action_prefix: str | None = strawberry.field(
        default=None, description='"account." for every account action, or a whole action.'
    )
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime | None = strawberry.field(default=None, description="Exclusive.")


def encode_key_cursor(kind: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_key_cursor(kind: str, cursor: str | None) -> str | None:
    """The key in a cursor of ``kind`` (None when absent); a malformed one is a client
    error."""
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        text = ""
    prefix, _, key = text.partition(":")
    if prefix != kind or not key:
        raise bad_input("Invalid cursor.", argumentName="after")
    return key
