"""Accounts: registration (without telling who has an account), the password policy for new
passwords, email confirmation, and account lookups."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from media_gateway.storage.types import as_utc, new_id, utcnow
from media_gateway.subgraphs.identity.codes import code_key
from media_gateway.subgraphs.identity.common import (
    IdentityError,
    IdentityStores,
    normalize_email,
)
from media_gateway.subgraphs.identity.emails import IdentityEmails
from media_gateway.subgraphs.identity.models import UserRecord
from media_gateway.subgraphs.identity.passwords import check_new_password, hash_password

EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Account:
    """A member account as the rest of the product sees it (no secrets)."""

    id: str
    email: str
    display_name: str
    created_at: datetime
    email_verified: bool
    mfa_enabled: bool
    role: str = "member"
    locked_at: datetime | None = None
    deletion_due_at: datetime | None = None

    @property
    def locked(self) -> bool:
        return self.locked_at is not None

    @classmethod
    def of(cls, record: UserRecord) -> Account:
        return cls(
            id=record.id,
            email=record.email,
            display_name=record.display_name,
            created_at=as_utc(record.created_at),
            email_verified=record.email_verified_at is not None,
            mfa_enabled=record.totp_secret is not None,
            role=record.role or "member",
            locked_at=as_utc(record.locked_at) if record.locked_at else None,
            deletion_due_at=as_utc(record.deletion_due_at) if record.deletion_due_at else None,
        )


class AccountService:
    def __init__(self, stores: IdentityStores, emails: IdentityEmails) -> None:
        self.stores = stores
        self.emails = emails

    # -- lookups -------------------------------------------------------------------------
    async def accounts(self, ids: Sequence[str]) -> list[Account]:
        async with self.stores.database.session() as session:
            result = await session.exec(select(UserRecord).where(col(UserRecord.id).in_(ids)))
            return [Account.of(record) for record in result.all()]

    async def record(self, user_id: str) -> UserRecord:
        """The stored account (with its secrets), for the other identity sub-domains."""
        async with self.stores.database.session() as session:
            user = await session.get(UserRecord, user_id)
        if user is None:
            raise IdentityError("This account no longer exists.", "UNAUTHENTICATED")
        return user

    async def account(self, user_id: str) -> Account:
        return Account.of(await self.record(user_id))

    async def record_by_email(self, email: str) -> UserRecord | None:
        async with self.stores.database.session() as session:
            result = await session.exec(
                select(UserRecord).where(UserRecord.email == normalize_email(email))
            )
            return result.first()

    # -- registration --------------------------------------------------------------------
    async def register(
        self,
        email: str,
        password: str,
        display_name: str,
        *,
        user_id: str | None = None,
        client_address: str | None = None,
        send_verification: bool = True,
        rate_limited: bool = True,
    ) -> Account:
        """Create an account. An email that already has one gets the same answer as a new
        one (an account that is not stored) and its owner is told by email instead, so the
        answer never says which addresses have accounts. ``rate_limited=False`` is for the
        service's own accounts (the demo seed), which no client asked for: the per-email
        limit counts in Redis across databases, so a seed into a fresh database must not
        spend it."""
        email = normalize_email(email)
        display_name = display_name.strip()
        limits = self.stores.limits
        if rate_limited:
            await self.stores.limit("register-address", client_address, limits.register_per_address)
        if not EMAIL_PATTERN.match(email) or len(email) > 320:
            raise IdentityError("Enter a valid email address.", field="email")
        if rate_limited:
            await self.stores.limit("register-email", email, limits.register_per_email)
        if not 1 <= len(display_name) <= 120:
            raise IdentityError(
                "Choose a display name of 1 to 120 characters.", "BAD_USER_INPUT", "displayName"
            )
        await self.check_new_password(password, email, display_name)
        record = UserRecord(
            id=user_id or new_id(),
            email=email,
            display_name=display_name,
            password_hash=await hash_password(password),
        )
        try:
            async with self.stores.database.transaction() as session:
                session.add(record)
        except IntegrityError as exc:
            if user_id is not None:  # an internal caller naming the id wants to know
                raise IdentityError(
                    "An account with this email already exists.", "ALREADY_EXISTS", "email"
                ) from exc
            await self.emails.tell_owner_of_registration_attempt(email)
            unsaved = UserRecord(
                id=new_id(), email=email, display_name=display_name, password_hash=""
            )
            return Account.of(unsaved)
        if send_verification:
            await self.emails.send_verification(record)
        return Account.of(record)

    async def check_new_password(
        self,
        password: str,
        email: str | None = None,
        display_name: str | None = None,
        field_name: str = "password",
    ) -> None:
        """BAD_USER_INPUT (with ``reason``) unless ``password`` meets the password policy."""
        inputs = [text for text in (email, display_name) if text]
        refusal = await check_new_password(password, inputs)
        if refusal is not None:
            raise IdentityError(refusal.message, field=field_name, reason=refusal.reason)

    # -- email confirmation --------------------------------------------------------------
    async def request_email_verification(self, user_id: str) -> bool:
        user = await self.record(user_id)
        if user.email_verified_at is not None:
            return False
        await self.stores.limit("verify-email", user.id, self.stores.limits.reset_per_email)
        await self.emails.send_verification(user)
        return True

    async def verify_email(self, token: str) -> Account:
        value = await self.stores.codes.take(code_key("verify-email", token))
        if value is None:
            raise IdentityError(
                "This verification link is invalid, expired or already used.", "INVALID_TOKEN"
            )
        async with self.stores.database.transaction() as session:
            user = await session.get(UserRecord, value["user_id"])
            if user is None or user.email != value["email"]:
                raise IdentityError("This verification link no longer applies.", "INVALID_TOKEN")
            if user.email_verified_at is None:
                user.email_verified_at = utcnow()
                session.add(user)
        return Account.of(user)
