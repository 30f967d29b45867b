"""Sessions: tokens for a signed-in member (or a delegated client), refresh-token rotation
with theft detection, sign-out, and switching the viewing profile a session acts for.

A session is a refresh-token family: each refresh rotates the token within its family, and
a rotated token coming back ends the whole family.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from media_gateway.auth.revocation import Revocation
from media_gateway.auth.scopes import role_scopes
from media_gateway.auth.tokens import Claims, TokenService
from media_gateway.storage.audit import record_audit
from media_gateway.storage.types import as_utc, new_id, utcnow
from media_gateway.subgraphs.identity.accounts import Account, AccountService
from media_gateway.subgraphs.identity.common import (
    IdentityError,
    IdentityStores,
    digest,
)
from media_gateway.subgraphs.identity.models import RefreshTokenRecord, UserRecord
from media_gateway.subgraphs.identity.passwords import verify_password
from media_gateway.subgraphs.identity.profiles import Profile, ProfileService
from media_gateway.subgraphs.identity.revocations import SessionEnds

ACCOUNT_LOCKED_MESSAGE = (
    "This account is locked; contact support to have it unlocked."  # no sign-in, no refresh
)


@dataclass(frozen=True)
class Session:
    user: Account
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    profile: Profile | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    # a sign-in's proof of a known device (see SignInPolicy)
    device_token: str | None = None
    # the resources (RFC 8707) the access token is bound to
    resources: tuple[str, ...] = ()


class SessionService:
    def __init__(
        self,
        stores: IdentityStores,
        tokens: TokenService,
        accounts: AccountService,
        profiles: ProfileService,
        ends: SessionEnds,
    ) -> None:
        self.stores = stores
        self.tokens = tokens
        self.accounts = accounts
        self.profiles = profiles
        self.ends = ends

    async def new_session(
        self,
        user: Account,
        *,
        family_id: str,
        profile: Profile | None = None,
        scopes: frozenset[str] | None = None,
        client_id: str | None = None,
        resources: Sequence[str] = (),
        audit: str | None = None,
        audit_detail: dict[str, Any] | None = None,
        continued: bool = False,
    ) -> Session:
        """``audit``: the audit action to record with the new session (``auth.sign_in``), in
        its transaction; a new delegated session (not ``continued`` from one, as a refresh
        is) is recorded as ``oauth.grant``.

        Tokens for a member's own session (all session scopes, and the operator scopes of
        the account's role) or a delegated one; ``resources``: what its access tokens are for
        (RFC 8707), kept across refreshes. A locked account gets none."""
        if user.locked:
            raise IdentityError(ACCOUNT_LOCKED_MESSAGE, "ACCOUNT_LOCKED")
        granted = role_scopes(user.role) if scopes is None else scopes
        access_token, access_expires = self.tokens.issue_access_token(
            user.id,
            scopes=granted,
            profile_id=profile.id if profile else None,
            max_content_rating=profile.max_content_rating if profile else None,
            kids=profile.kids if profile else False,
            session_id=family_id,
            extra={"client_id": client_id} if client_id else None,
            resources=resources,
        )
        refresh_token = secrets.token_urlsafe(32)
        ttl = self.stores.settings.jwt_refresh_token_ttl_seconds
        refresh_expires = utcnow() + timedelta(seconds=ttl)
        async with self.stores.database.transaction() as session:
            session.add(
                RefreshTokenRecord(
                    token_hash=digest(refresh_token),
                    family_id=family_id,
                    user_id=user.id,
                    expires_at=refresh_expires,
                    profile_id=profile.id if profile else None,
                    scopes=" ".join(sorted(scopes)) if scopes is not None else None,
                    client_id=client_id,
                    resources=" ".join(resources) if resources else None,
                )
            )
            action = audit or ("oauth.grant" if client_id and not continued else None)
            if action is not None:
                await record_audit(
                    session,
                    actor_id=user.id,
                    action=action,
                    target_type="session",
                    target_id=family_id,
                    after={
                        "userId": user.id,
                        "clientId": client_id,
                        "scopes": sorted(granted),
                        "profileId": profile.id if profile else None,
                    },
                    detail=audit_detail,
                )
        return Session(
            user,
            access_token,
            access_expires,
            refresh_token,
            refresh_expires,
            profile,
            granted,
            resources=tuple(resources),
        )

    async def refresh(
        self,
        refresh_token: str,
        *,
        client_address: str | None = None,
        client_id: str | None = None,
        resources: Sequence[str] = (),
    ) -> Session:
        """Rotate a refresh token; reusing a rotated one revokes its whole family.
        ``resources`` (RFC 8707) must be among those the session was granted: the new access
        token is for them (by default, for all the session's)."""
        limits = self.stores.limits
        await self.stores.limit("refresh-address", client_address, limits.refresh_per_address)
        now = utcnow()
        reused = False
        ended: list[Revocation] = []
        async with self.stores.database.transaction() as session:
            result = await session.exec(
                select(RefreshTokenRecord).where(
                    RefreshTokenRecord.token_hash == digest(refresh_token)
                )
            )
            record = result.first()
            if record is None or record.revoked_at is not None:
                raise IdentityError("This session has ended; sign in again.", "UNAUTHENTICATED")
            if client_id is not None and record.client_id != client_id:
                raise IdentityError("This refresh token belongs to another client.", "FORBIDDEN")
            if as_utc(record.expires_at) <= now:
                raise IdentityError("This session has expired; sign in again.", "UNAUTHENTICATED")
            bound = tuple((record.resources or "").split())
            if not set(resources) <= set(bound):
                raise IdentityError(
                    "This session was not granted for that resource.", "invalid_target"
                )
            if record.used_at is not None:
                # theft detection: a rotated token came back; end every session of its family
                # (committed before the refusal is raised)
                ended = await self.ends.end_family(session, record.user_id, record.family_id, now)
                reused = True
                user = None
            else:
                # single use even under concurrency: only one request flips used_at
                flipped = await session.exec(
                    update(RefreshTokenRecord)
                    .where(col(RefreshTokenRecord.id) == record.id)
                    .where(col(RefreshTokenRecord.used_at).is_(None))
                    .values(used_at=now)
                )
                if flipped.rowcount != 1:
                    raise IdentityError("This session has ended; sign in again.", "UNAUTHENTICATED")
                user = await session.get(UserRecord, record.user_id)
            family_id = record.family_id
            profile_id, scopes, owner = record.profile_id, record.scopes, record.client_id
        if reused:
            await self.ends.announce(ended)
            raise IdentityError(
                "This refresh token was already used; every session of its family was signed out.",
                "REFRESH_TOKEN_REUSED",
            )
        if user is None:
            raise IdentityError("This session has ended; sign in again.", "UNAUTHENTICATED")
        await self.stores.limit("refresh-account", user.id, limits.refresh_per_account)
        profile = await self.profiles.profile_of(user.id, profile_id) if profile_id else None
        return await self.new_session(
            Account.of(user),
            family_id=family_id,
            profile=profile,
            scopes=frozenset(scopes.split()) if scopes is not None else None,
            client_id=owner,
            resources=tuple(resources) or bound,
            continued=True,
        )

    async def logout(self, refresh_token: str) -> bool:
        """End the session of this refresh token."""
        async with self.stores.database.transaction() as session:
            result = await session.exec(
                select(RefreshTokenRecord).where(
                    RefreshTokenRecord.token_hash == digest(refresh_token)
                )
            )
            record = result.first()
            if record is None:
                return False
            ended = await self.ends.end_family(session, record.user_id, record.family_id, utcnow())
        await self.ends.announce(ended)
        return True

    async def logout_everywhere(self, user_id: str) -> None:
        """End every session of the account."""
        async with self.stores.database.transaction() as session:
            ended = await self.ends.end_every_session(session, user_id, utcnow())
        await self.ends.announce(ended)

    async def switch_profile(
        self, viewer: Claims, profile_id: str, password: str | None = None
    ) -> Session:
        """New tokens naming ``profile_id``. Leaving a kids profile for another one needs the
        account password (the parental lock)."""
        user = await self.accounts.record(viewer.subject)
        profile = await self.profiles.profile_of(user.id, profile_id)
        if profile is None:
            raise IdentityError("No such profile.", "NOT_FOUND", "profileId")
        if viewer.kids and not profile.kids:
            await self.stores.limit(
                "login-account", user.email, self.stores.limits.login_per_account
            )
            if not password or not await verify_password(user.password_hash, password):
                raise IdentityError(
                    "Leaving a kids profile needs the account password.", "FORBIDDEN", "password"
                )
        client_id = viewer.raw.get("client_id")
        # a delegated session keeps its scopes; the member's own takes its role's afresh
        scopes = viewer.scopes if client_id else None
        return await self.new_session(
            Account.of(user),
            family_id=new_id(),
            profile=profile,
            scopes=scopes,
            client_id=str(client_id) if client_id else None,
            continued=True,
        )
