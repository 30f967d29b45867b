"""Signing in with email and password (and the second factor when it is on), under an abuse
policy that slows guessing down without locking the owner out."""

from __future__ import annotations

import dataclasses
import math
import secrets
from dataclasses import dataclass

from media_gateway.storage.audit import append_audit
from media_gateway.storage.types import new_id
from media_gateway.subgraphs.identity.accounts import Account, AccountService
from media_gateway.subgraphs.identity.codes import code_key
from media_gateway.subgraphs.identity.common import (
    IdentityError,
    IdentityStores,
    digest,
    failed_sign_ins_key,
    normalize_email,
)
from media_gateway.subgraphs.identity.mfa import MfaService
from media_gateway.subgraphs.identity.models import UserRecord
from media_gateway.subgraphs.identity.passwords import hash_password, needs_rehash, verify_password
from media_gateway.subgraphs.identity.sessions import Session, SessionService


@dataclass(frozen=True)
class SignInPolicy:
    """Failed sign-ins cannot lock the owner out.

    Failures (wrong password or code) count per account and client address, or per account
    and device when the sign-in carries a device token an earlier sign-in issued. After
    ``free_failures`` of them, each further attempt from that pair waits ``first_delay``
    seconds, doubling per failure up to ``max_delay`` (and at most ``pair_ceiling`` per
    window). Failures of the account from everywhere have a higher ceiling; beyond it a
    password alone no longer signs in, but a password with the authenticator code, or from a
    known device, still does, and a password reset lifts it. Successful sign-ins clear their
    own pair only.
    """

    free_failures: int = 3
    first_delay: float = 2.0
    max_delay: float = 900.0
    pair_ceiling: int = 20
    pair_window_seconds: float = 3600.0
    account_ceiling: int = 100
    account_window_seconds: float = 3600.0
    device_token_ttl_seconds: float = 180 * 24 * 3600.0

    def delay_after(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return float(min(self.max_delay, self.first_delay * 2 ** (failures - self.free_failures)))


class SignInService:
    def __init__(
        self,
        stores: IdentityStores,
        accounts: AccountService,
        mfa: MfaService,
        sessions: SessionService,
        policy: SignInPolicy | None = None,
    ) -> None:
        self.stores = stores
        self.accounts = accounts
        self.mfa = mfa
        self.sessions = sessions
        self.policy = policy or SignInPolicy()

    async def login(
        self,
        email: str,
        password: str,
        totp_code: str | None,
        *,
        client_address: str | None = None,
        device_token: str | None = None,
    ) -> Session:
        """Sign in under the abuse policy (``SignInPolicy``): failures count per account and
        address (or known device) with growing delays, and past the account's ceiling a
        password alone is not enough, but a second factor or a known device still is."""
        email = normalize_email(email)
        policy = self.policy
        limiter = self.stores.limiter
        await self.stores.limit(
            "login-address", client_address, self.stores.limits.login_per_address
        )
        known_device = await self._known_device(email, device_token)
        origin = f"device:{known_device}" if known_device else f"address:{client_address or '-'}"
        pair_key = f"signin-fail-pair:{digest(email + '|' + origin)[:32]}"
        account_key = failed_sign_ins_key(email)
        await self._wait_between_failures(pair_key)
        protected = known_device is None and (
            (await limiter.usage(account_key, policy.account_window_seconds)).used
            >= policy.account_ceiling
        )
        user = await self.accounts.record_by_email(email)
        valid = await verify_password(user.password_hash if user else None, password)
        if protected and (user is None or not user.totp_secret or not totp_code):
            # the same answer whether the password was right or not: no oracle
            if not valid:
                await self._count_failure(pair_key, account_key)
            raise IdentityError(
                "This account is protected after many failed sign-ins: sign in with the code "
                "from your authenticator app, from a device you signed in on before, or reset "
                "your password.",
                "RATE_LIMITED",
                "totpCode",
                retryAfter=math.ceil(policy.account_window_seconds),
            )
        if user is None or not valid:
            await self._count_failure(pair_key, account_key)
            await self._audit_failure(email, user, client_address, "password")
            raise IdentityError("Incorrect email or password.", "UNAUTHENTICATED")
        if user.totp_secret:
            if not totp_code:
                raise IdentityError(
                    "Enter the code from your authenticator app.", "MFA_REQUIRED", "totpCode"
                )
            if not await self.mfa.check_second_factor(user, totp_code):
                await self._count_failure(pair_key, account_key)
                await self._audit_failure(email, user, client_address, "second_factor")
                raise IdentityError(
                    "That code is wrong or was already used; wait for the next one.",
                    "UNAUTHENTICATED",
                    "totpCode",
                )
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password(password)
            async with self.stores.database.transaction() as session:
                session.add(user)
        await limiter.reset(pair_key)
        account = Account.of(user)
        if account.locked:
            await self._audit_failure(email, user, client_address, "locked")
        signed_in = await self.sessions.new_session(
            account,
            family_id=new_id(),
            audit="auth.sign_in",
            audit_detail={"address": client_address, "mfa": bool(user.totp_secret)},
        )
        if known_device and device_token:
            return dataclasses.replace(signed_in, device_token=device_token)
        return dataclasses.replace(signed_in, device_token=await self._new_device_token(user))

    async def _audit_failure(
        self, email: str, user: UserRecord | None, client_address: str | None, reason: str
    ) -> None:
        await append_audit(
            self.stores.database,
            actor_id=None,
            action="auth.sign_in_failed",
            target_type="account",
            target_id=user.id if user else None,
            detail={"email": email, "address": client_address, "reason": reason},
        )

    async def _wait_between_failures(self, pair_key: str) -> None:
        """RATE_LIMITED while this account and address (or device) must wait after failures."""
        policy = self.policy
        usage = await self.stores.limiter.usage(pair_key, policy.pair_window_seconds)
        if usage.newest_age is None:
            return
        if usage.used >= policy.pair_ceiling:
            wait = policy.pair_window_seconds - (usage.oldest_age or 0.0)
        else:
            wait = policy.delay_after(usage.used) - usage.newest_age
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise IdentityError(
                f"Too many failed sign-ins; try again in {retry_after} seconds.",
                "RATE_LIMITED",
                retryAfter=retry_after,
            )

    async def _count_failure(self, pair_key: str, account_key: str) -> None:
        unbounded = 1 << 30
        await self.stores.limiter.hit(pair_key, unbounded, self.policy.pair_window_seconds)
        await self.stores.limiter.hit(account_key, unbounded, self.policy.account_window_seconds)

    async def _known_device(self, email: str, device_token: str | None) -> str | None:
        """An id of the device when ``device_token`` is one this account's sign-ins issued."""
        if not device_token or len(device_token) > 200:
            return None
        value = await self.stores.codes.get(code_key("device", device_token))
        if value is None or value.get("email") != email:
            return None
        return digest(device_token)[:32]

    async def _new_device_token(self, user: UserRecord) -> str:
        token = secrets.token_urlsafe(32)
        await self.stores.codes.put(
            code_key("device", token),
            {"email": user.email, "user_id": user.id},
            self.policy.device_token_ttl_seconds,
        )
        return token
