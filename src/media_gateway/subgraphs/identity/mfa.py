"""Two-step sign-in (TOTP, RFC 6238): enrolment confirmed by a first code, one-time backup
codes, and the second-factor check sign-in uses. A code is never accepted twice: the last
time step used is remembered, and a backup code is spent when it is used."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

import pyotp
from sqlalchemy import update
from sqlmodel import col, select

from media_gateway.storage.audit import record_audit
from media_gateway.storage.types import utcnow
from media_gateway.subgraphs.identity.accounts import AccountService
from media_gateway.subgraphs.identity.common import IdentityError, IdentityStores
from media_gateway.subgraphs.identity.models import BackupCodeRecord, UserRecord
from media_gateway.subgraphs.identity.passwords import hash_password, verify_password

BACKUP_CODE_COUNT = 10


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    provisioning_uri: str


def _new_backup_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _matching_step(secret: str, code: str) -> int | None:
    """The time step (current, previous or next) whose code ``code`` is, if any."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(utcnow())
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


class MfaService:
    def __init__(self, stores: IdentityStores, accounts: AccountService) -> None:
        self.stores = stores
        self.accounts = accounts

    async def start_enrolment(self, user_id: str) -> TotpEnrolment:
        user = await self.accounts.record(user_id)
        if user.totp_secret:
            raise IdentityError(
                "Two-step sign-in is already on; turn it off first.", "ALREADY_EXISTS"
            )
        secret = pyotp.random_base32()
        async with self.stores.database.transaction() as session:
            stored = await session.get(UserRecord, user_id)
            assert stored is not None
            stored.totp_pending_secret = secret
            session.add(stored)
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Media Gateway")
        return TotpEnrolment(secret, uri)

    async def confirm_enrolment(self, user_id: str, code: str) -> list[str]:
        """Turn MFA on with a first valid code; returns the one-time backup codes."""
        await self.stores.limit("mfa", user_id, self.stores.limits.mfa_per_account)
        user = await self.accounts.record(user_id)
        if not user.totp_pending_secret:
            raise IdentityError("Start the enrolment first.", "BAD_USER_INPUT")
        step = _matching_step(user.totp_pending_secret, code)
        if step is None:
            raise IdentityError("That code is wrong; try the current one.", field="code")
        codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
        hashes = await asyncio.gather(*(hash_password(c) for c in codes))
        async with self.stores.database.transaction() as session:
            stored = await session.get(UserRecord, user_id)
            assert stored is not None
            stored.totp_secret = stored.totp_pending_secret
            stored.totp_pending_secret = None
            stored.totp_last_step = step
            session.add(stored)
            await session.exec(
                update(BackupCodeRecord)
                .where(col(BackupCodeRecord.user_id) == user_id)
                .where(col(BackupCodeRecord.used_at).is_(None))
                .values(used_at=utcnow())
            )
            for code_hash in hashes:
                session.add(BackupCodeRecord(user_id=user_id, code_hash=code_hash))
            await record_audit(
                session,
                actor_id=user_id,
                action="mfa.enable",
                target_type="account",
                target_id=user_id,
                before={"mfaEnabled": False},
                after={"mfaEnabled": True},
            )
        return codes

    async def disable(self, user_id: str, code: str) -> bool:
        await self.stores.limit("mfa", user_id, self.stores.limits.mfa_per_account)
        user = await self.accounts.record(user_id)
        if not user.totp_secret:
            return False
        if not await self.check_second_factor(user, code):
            raise IdentityError("That code is wrong or was already used.", field="code")
        async with self.stores.database.transaction() as session:
            stored = await session.get(UserRecord, user_id)
            assert stored is not None
            stored.totp_secret = None
            stored.totp_pending_secret = None
            stored.totp_last_step = None
            session.add(stored)
            await session.exec(
                update(BackupCodeRecord)
                .where(col(BackupCodeRecord.user_id) == user_id)
                .where(col(BackupCodeRecord.used_at).is_(None))
                .values(used_at=utcnow())
            )
            await record_audit(
                session,
                actor_id=user_id,
                action="mfa.disable",
                target_type="account",
                target_id=user_id,
                before={"mfaEnabled": True},
                after={"mfaEnabled": False},
            )
        return True

    async def check_second_factor(self, user: UserRecord, code: str) -> bool:
        """A TOTP code of a step after the last one used, or an unused backup code."""
        assert user.totp_secret
        step = _matching_step(user.totp_secret, code)
        if step is not None:
            # remember the step atomically: the same code (or an older one) never works again
            async with self.stores.database.transaction() as session:
                flipped = await session.exec(
                    update(UserRecord)
                    .where(col(UserRecord.id) == user.id)
                    .where(
                        (col(UserRecord.totp_last_step).is_(None))
                        | (col(UserRecord.totp_last_step) < step)
                    )
                    .values(totp_last_step=step)
                )
                return flipped.rowcount == 1
        return await self._use_backup_code(user.id, code)

    async def _use_backup_code(self, user_id: str, code: str) -> bool:
        code = code.strip().lower()
        if len(code) != 11 or code[5] != "-":
            return False
        async with self.stores.database.session() as session:
            result = await session.exec(
                select(BackupCodeRecord)
                .where(BackupCodeRecord.user_id == user_id)
                .where(col(BackupCodeRecord.used_at).is_(None))
            )
            candidates = list(result.all())
        for candidate in candidates:
            if await verify_password(candidate.code_hash, code):
                async with self.stores.database.transaction() as session:
                    used = await session.exec(
                        update(BackupCodeRecord)
                        .where(col(BackupCodeRecord.id) == candidate.id)
                        .where(col(BackupCodeRecord.used_at).is_(None))
                        .values(used_at=utcnow())
                    )
                    return used.rowcount == 1
        return False
