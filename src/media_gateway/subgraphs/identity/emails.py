"""The emails the identity service sends: the email confirmation link, the password reset
link and the notice that someone tried to register an address that has an account. Each is
stored in the outbox first and delivered in the background."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from media_gateway.subgraphs.identity.codes import code_key
from media_gateway.subgraphs.identity.common import IdentityStores, normalize_email
from media_gateway.subgraphs.identity.mail import Outbox
from media_gateway.subgraphs.identity.models import EmailOutboxRecord, UserRecord

EMAIL_TOKEN_TTL = timedelta(hours=24)
RESET_TOKEN_TTL = timedelta(minutes=30)


class IdentityEmails:
    def __init__(self, stores: IdentityStores) -> None:
        self.stores = stores
        self.outbox = Outbox(stores.database, stores.settings)
        self._background: set[asyncio.Task[Any]] = set()

    async def aclose(self) -> None:
        """Wait for the deliveries under way."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _spawn_delivery(self) -> None:
        task = asyncio.get_running_loop().create_task(self.outbox.deliver_pending())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def send_verification(self, user: UserRecord) -> None:
        token = secrets.token_urlsafe(32)
        await self.stores.codes.put(
            code_key("verify-email", token),
            {"user_id": user.id, "email": user.email},
            EMAIL_TOKEN_TTL.total_seconds(),
        )
        link = f"{self.stores.settings.public_url}/verify-email?token={token}"
        await self.outbox.enqueue(
            user.email,
            "verify-email",
            "Confirm your email address",
            f"Hello {user.display_name},\n\nConfirm your email address with this link "
            f"(valid for 24 hours):\n{link}\n\nVerification code: {token}\n",
        )
        self._spawn_delivery()

    async def send_password_reset(self, user: UserRecord) -> None:
        token = secrets.token_urlsafe(32)
        await self.stores.codes.put(
            code_key("reset-password", token),
            {"user_id": user.id, "password_hash": user.password_hash[-16:]},
            RESET_TOKEN_TTL.total_seconds(),
        )
        link = f"{self.stores.settings.public_url}/reset-password?token={token}"
        await self.outbox.enqueue(
            user.email,
            "reset-password",
            "Reset your password",
            f"Hello {user.display_name},\n\nSomeone asked to reset the password of this "
            f"account. If it was you, choose a new one with this link (valid for 30 "
            f"minutes):\n{link}\n\nReset code: {token}\n\nIf it was not you, ignore this email.\n",
        )
        self._spawn_delivery()

    async def tell_owner_of_registration_attempt(self, email: str) -> None:
        async with self.stores.database.session() as session:
            result = await session.exec(select(UserRecord).where(UserRecord.email == email))
            owner = result.first()
        if owner is None:  # deleted meanwhile: nothing to tell
            return
        await self.outbox.enqueue(
            owner.email,
            "registration-attempt",
            "Someone tried to create an account with your email",
            f"Hello {owner.display_name},\n\nSomeone tried to create a new Media Gateway "
            "account with this email address, which already has one. Nothing was changed.\n\n"
            "If it was you, sign in instead; if you forgot your password, reset it at "
            f"{self.stores.settings.public_url}/reset-password.\n\nIf it was not you, you can "
            "ignore this email.\n",
        )
        self._spawn_delivery()

    async def outbox_for(self, recipient: str) -> list[EmailOutboxRecord]:
        """The outbox rows of one address, newest first (operators and tests)."""
        async with self.stores.database.session() as session:
            result = await session.exec(
                select(EmailOutboxRecord)
                .where(EmailOutboxRecord.recipient == normalize_email(recipient))
                .order_by(col(EmailOutboxRecord.created_at).desc())
            )
            return list(result.all())
