"""Identity's operator roots: account administration and the audit log, each behind the
operator scope it needs (``@requiresScopes``, enforced by the router and this subgraph).
Merged into identity's ``Query`` and ``Mutation`` by the assembly; see docs/operating.md."""

from __future__ import annotations

import strawberry

from media_gateway.resolvers.identity import _client_error
from media_gateway.schema.common import PageInfo, bad_input, clamp_first, unauthenticated
from media_gateway.schema.identity import ApiKey, IdentityContext
from media_gateway.schema.identity_admin import (
    AccountRole,
    AuditEntry,
    AuditEntryConnection,
    AuditEntryEdge,
    AuditLogFilter,
    ManagedAccount,
    ManagedAccountConnection,
    ManagedAccountEdge,
    decode_key_cursor,
    encode_key_cursor,
)
from media_gateway.storage.audit import AuditFilter
from media_gateway.subgraphs.identity.accounts import Account
from media_gateway.subgraphs.identity.common import IdentityError

Info = strawberry.Info[IdentityContext, None]
ACCOUNTS_READ = [["accounts:read"]]
ACCOUNTS_SUPPORT = [["accounts:support"]]
ACCOUNTS_ADMIN = [["accounts:admin"]]
AUDIT_READ = [["audit:read"]]


def _actor(info: Info) -> str:
    viewer = info.context.viewer
    if viewer is None:
        raise unauthenticated("Sign in to do this.")
    return viewer.subject


def _managed(account: Account) -> ManagedAccount:
    return ManagedAccount.of(account)


@strawberry.type
class AdminQuery:
    @strawberry.federation.field(
        description="Find accounts whose email or display name contains `query` (any case), "
        "by email.",
        requires_scopes=ACCOUNTS_READ,
    )
    async def admin_accounts(
        self,
        info: Info,
        query: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> ManagedAccountConnection | None:
        size = clamp_first(first)
        try:
            page = await info.context.administration.find_accounts(
                query, first=size, after=decode_key_cursor("email", after)
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        edges = [
            ManagedAccountEdge(cursor=encode_key_cursor("email", a.email), node=_managed(a))
            for a in page.accounts
        ]
        return ManagedAccountConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.federation.field(description="One account, by id.", requires_scopes=ACCOUNTS_READ)
    async def admin_account(self, info: Info, id: strawberry.ID) -> ManagedAccount | None:
        account = await info.context.administration.account(str(id))
        return _managed(account) if account else None

    @strawberry.federation.field(
        description="A member's data, for an export: ask for the account with its `profiles` "
        "and, on `user`, the other services' data (`adminWatchHistory`...) in the same query. "
        "Written to the audit log (account.export).",
        requires_scopes=ACCOUNTS_SUPPORT,
    )
    async def admin_account_export(
        self, info: Info, user_id: strawberry.ID
    ) -> ManagedAccount | None:
        try:
            account = await info.context.administration.export_account(_actor(info), str(user_id))
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _managed(account)

    @strawberry.federation.field(
        description="The audit log, newest first: security events and every operator action, "
        "with the state before and after.",
        requires_scopes=AUDIT_READ,
    )
    async def audit_log(
        self,
        info: Info,
        filter: AuditLogFilter | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> AuditEntryConnection | None:
        size = clamp_first(first, default=50, maximum=200)
        key = decode_key_cursor("audit", after)
        if key is not None and not key.isdigit():
            raise bad_input("Invalid cursor.", argumentName="after")
        given = filter or AuditLogFilter()
        where = AuditFilter(
            actor_id=str(given.actor_id) if given.actor_id else None,
            action_prefix=given.action_prefix or None,
            target_type=given.target_type,
            target_id=given.target_id,
            since=given.since,
            until=given.until,
        )
        try:
            rows, more = await info.context.administration.audit_entries(
                where, first=size, after_id=int(key) if key else None
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        edges = [
            AuditEntryEdge(cursor=encode_key_cursor("audit", str(r.id)), node=AuditEntry.of(r))
            for r in rows
        ]
        return AuditEntryConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=more,
                has_previous_page=after is not None,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )


@strawberry.type
class AdminMutation:
    @strawberry.federation.mutation(
        description="Assign an account's role; its sessions end (the new role's scopes come "
        "with its next sign-in).",
        requires_scopes=ACCOUNTS_ADMIN,
    )
    async def admin_set_account_role(
        self, info: Info, user_id: strawberry.ID, role: AccountRole
    ) -> ManagedAccount | None:
        try:
            account = await info.context.administration.set_role(
                _actor(info), str(user_id), role.value
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _managed(account)

    @strawberry.federation.mutation(
        description="End one session of an account (`sessionId`) or all of them, at once; "
        "returns how many ended.",
        requires_scopes=ACCOUNTS_SUPPORT,
    )
    async def admin_revoke_sessions(
        self, info: Info, user_id: strawberry.ID, session_id: strawberry.ID | None = None
    ) -> int | None:
        try:
            return await info.context.administration.revoke_sessions(
                _actor(info), str(user_id), str(session_id) if session_id else None
            )
        except IdentityError as exc:
            raise _client_error(exc) from None

    @strawberry.federation.mutation(
        description="Lock an account: it cannot sign in or refresh, its sessions end at once.",
        requires_scopes=ACCOUNTS_SUPPORT,
    )
    async def admin_lock_account(
        self, info: Info, user_id: strawberry.ID, reason: str | None = None
    ) -> ManagedAccount | None:
        try:
            account = await info.context.administration.lock(_actor(info), str(user_id), reason)
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _managed(account)

    @strawberry.federation.mutation(
        description="Unlock an account.", requires_scopes=ACCOUNTS_SUPPORT
    )
    async def admin_unlock_account(
        self, info: Info, user_id: strawberry.ID
    ) -> ManagedAccount | None:
        try:
            account = await info.context.administration.unlock(_actor(info), str(user_id))
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _managed(account)

    @strawberry.federation.mutation(
        description="The account's password stops working and its sessions end; its owner "
        "gets an email with a link to choose a new one.",
        requires_scopes=ACCOUNTS_SUPPORT,
    )
    async def admin_force_password_reset(
        self, info: Info, user_id: strawberry.ID
    ) -> ManagedAccount | None:
        try:
            account = await info.context.administration.force_password_reset(
                _actor(info), str(user_id)
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _managed(account)

    @strawberry.federation.mutation(
        description="Delete an account and its data after the grace period "
        "(ACCOUNT_DELETION_GRACE_DAYS); it is locked meanwhile, and the deletion can be "
        "cancelled until then.",
        requires_scopes=ACCOUNTS_ADMIN,
    )
    async def admin_schedule_account_deletion(
        self, info: Info, user_id: strawberry.ID
    ) -> ManagedAccount | None:
        try:
            account = await info.context.administration.schedule_deletion(
                _actor(info), str(user_id)
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _managed(account)

    @strawberry.federation.mutation(
        description="Cancel an account's scheduled deletion (and the lock that came with it).",
        requires_scopes=ACCOUNTS_ADMIN,
    )
    async def admin_cancel_account_deletion(
        self, info: Info, user_id: strawberry.ID
    ) -> ManagedAccount | None:
        try:
            account = await info.context.administration.cancel_deletion(_actor(info), str(user_id))
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _managed(account)

    @strawberry.federation.mutation(
        description="Set the operator scopes of an API key (its other scopes stay); an empty "
        "list takes them away. Only this grants operator scopes to a key.",
        requires_scopes=ACCOUNTS_ADMIN,
    )
    async def admin_grant_api_key_scopes(
        self, info: Info, key_id: strawberry.ID, scopes: list[str]
    ) -> ApiKey | None:
        try:
            key = await info.context.administration.grant_api_key_scopes(
                _actor(info), str(key_id), scopes
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return ApiKey.of(key)
