"""Changing a password: with the current one, or with a reset link sent to the account's
email address. Either way every session of the account ends."""

from __future__ import annotations

from media_gateway.auth.tokens import Claims
from media_gateway.storage.audit import append_audit, record_audit
from media_gateway.storage.types import new_id, utcnow
from media_gateway.subgraphs.identity.accounts import Account, AccountService
from media_gateway.subgraphs.identity.codes import code_key
from media_gateway.subgraphs.identity.common import (
    IdentityError,
    IdentityStores,
    failed_sign_ins_key,
    login_account_key,
    normalize_email,
)
from media_gateway.subgraphs.identity.emails import IdentityEmails
from media_gateway.subgraphs.identity.models import UserRecord
from media_gateway.subgraphs.identity.passwords import hash_password, verify_password
from media_gateway.subgraphs.identity.profiles import ProfileService
from media_gateway.subgraphs.identity.revocations import SessionEnds
from media_gateway.subgraphs.identity.sessions import Session, SessionService


class CredentialService:
    def __init__(
        self,
        stores: IdentityStores,
        accounts: AccountService,
        emails: IdentityEmails,
        profiles: ProfileService,
        sessions: SessionService,
        ends: SessionEnds,
    ) -> None:
        self.stores = stores
        self.accounts = accounts
        self.emails = emails
        self.profiles = profiles
        self.sessions = sessions
        self.ends = ends

    async def request_password_reset(self, email: str) -> None:
        """Always succeeds (no account enumeration); an email goes out if the account exists."""
        email = normalize_email(email)
        user = await self.accounts.record_by_email(email)
        if user is None:
            return
        try:
            await self.stores.limit("reset-email", email, self.stores.limits.reset_per_email)
        except IdentityError:
            return  # silently: the answer must not differ
        await self.emails.send_password_reset(user)
        await append_audit(
            self.stores.database,
            actor_id=None,
            action="auth.password_reset_requested",
            target_type="account",
            target_id=user.id,
        )

    async def reset_password(self, token: str, new_password: str) -> Account:
        """Set a new password with a reset token; every session of the account ends."""
        key = code_key("reset-password", token)
        pending = await self.stores.codes.get(key)
        if pending is None:
            raise IdentityError(
                "This reset link is invalid, expired or already used.", "INVALID_TOKEN"
            )
        owner = await self.accounts.accounts([str(pending["user_id"])])
        await self.accounts.check_new_password(  # before the token is spent: a typo keeps it
            new_password,
            owner[0].email if owner else None,
            owner[0].display_name if owner else None,
            field_name="newPassword",
        )
        value = await self.stores.codes.take(key)
        if value is None:
            raise IdentityError(
                "This reset link is invalid, expired or already used.", "INVALID_TOKEN"
            )
        password_hash = await hash_password(new_password)
        now = utcnow()
        async with self.stores.database.transaction() as session:
            user = await session.get(UserRecord, value["user_id"])
            if user is None or user.password_hash[-16:] != value["password_hash"]:
                raise IdentityError("This reset link no longer applies.", "INVALID_TOKEN")
            user.password_hash = password_hash
            user.password_changed_at = now
            if user.email_verified_at is None:  # the link proved the mailbox
                user.email_verified_at = now
            session.add(user)
            ended = await self.ends.end_every_session(session, user.id, now)
            await record_audit(
                session,
                actor_id=user.id,
                action="auth.password_reset",
                target_type="account",
                target_id=user.id,
                detail={"sessionsEnded": len(ended)},
            )
        await self.ends.announce(ended)
        await self.stores.limiter.reset(login_account_key(user.email))
        # the mailbox proved the owner: lift the protection failed sign-ins put on
        await self.stores.limiter.reset(failed_sign_ins_key(user.email))
        return Account.of(user)

    async def change_password(
        self,
        viewer: Claims,
        current_password: str,
        new_password: str,
    ) -> Session:
        """Change the password with the current one. Every session of the account ends,
        this one included; the answer is a new session on the same profile."""
        user = await self.accounts.record(viewer.subject)
        await self.stores.limit("login-account", user.email, self.stores.limits.login_per_account)
        if not await verify_password(user.password_hash, current_password):
            raise IdentityError(
                "The current password is not right.", "UNAUTHENTICATED", "currentPassword"
            )
        await self.accounts.check_new_password(
            new_password, user.email, user.display_name, field_name="newPassword"
        )
        password_hash = await hash_password(new_password)
        now = utcnow()
        async with self.stores.database.transaction() as session:
            stored = await session.get(UserRecord, user.id)
            if stored is None or stored.password_hash != user.password_hash:
                raise IdentityError(
                    "The password was changed meanwhile; sign in again.", "UNAUTHENTICATED"
                )
            stored.password_hash = password_hash
            stored.password_changed_at = now
            session.add(stored)
            ended = await self.ends.end_every_session(session, user.id, now)
            await record_audit(
                session,
                actor_id=user.id,
                action="auth.password_change",
                target_type="account",
                target_id=user.id,
                detail={"sessionsEnded": len(ended)},
            )
        await self.ends.announce(ended)
        await self.stores.limiter.reset(login_account_key(user.email))
        profile = (
            await self.profiles.profile_of(user.id, viewer.profile_id)
            if viewer.profile_id
            else None
        )
        return await self.sessions.new_session(
            Account.of(stored), family_id=new_id(), profile=profile
        )
