"""Accounts and sessions: registration, sign-in with MFA, refresh-token rotation, viewing
profiles, API keys, email verification and password reset, abuse limits."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import math
import re
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyotp
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from media_gateway.auth.callers import API_KEY_PREFIX, api_key_digest, forget_api_key
from media_gateway.auth.revocation import Revocation, RevokedSessions, revoked_sessions
from media_gateway.auth.scopes import DELEGABLE_SCOPES, SESSION_SCOPES
from media_gateway.auth.tokens import CLOCK_SKEW_SECONDS, Claims, TokenService
from media_gateway.platform import ratings
from media_gateway.platform.ratelimit import SlidingWindowLimiter
from media_gateway.platform.settings import Settings
from media_gateway.storage.database import Database
from media_gateway.storage.types import as_utc, new_id, utcnow
from media_gateway.subgraphs.identity.codes import CodeStore, code_key
from media_gateway.subgraphs.identity.mail import Outbox
from media_gateway.subgraphs.identity.models import (
    ApiKeyRecord,
    BackupCodeRecord,
    ProfileRecord,
    RefreshTokenRecord,
    UserRecord,
)
from media_gateway.subgraphs.identity.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)

EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
BACKUP_CODE_COUNT = 10
MAX_PROFILES = 6
MAX_API_KEYS = 20
KIDS_MAX_RATING = "PG"
EMAIL_TOKEN_TTL = timedelta(hours=24)
RESET_TOKEN_TTL = timedelta(minutes=30)


class IdentityError(Exception):
    """A refusal the client can act on; ``code`` becomes ``extensions.code``."""

    def __init__(
        self,
        message: str,
        code: str = "BAD_USER_INPUT",
        field: str | None = None,
        **extensions: Any,
    ):
        super().__init__(message)
        self.code = code
        self.field = field
        self.extensions = extensions


@dataclass(frozen=True)
class Limit:
    limit: int
    window_seconds: float


@dataclass(frozen=True)
class Limits:
    """Abuse limits per account (or device code) and per client address. Sign-in failures
    follow ``SignInPolicy``; ``login_per_account`` bounds password checks of a signed-in
    member (leaving a kids profile, changing the password)."""

    login_per_account: Limit = Limit(10, 300)
    login_per_address: Limit = Limit(50, 300)
    register_per_address: Limit = Limit(20, 3600)
    register_per_email: Limit = Limit(5, 3600)
    refresh_per_account: Limit = Limit(60, 60)
    refresh_per_address: Limit = Limit(120, 60)
    device_poll_per_address: Limit = Limit(120, 60)
    device_start_per_address: Limit = Limit(30, 300)
    reset_per_email: Limit = Limit(3, 3600)
    mfa_per_account: Limit = Limit(10, 300)


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


@dataclass(frozen=True)
class Session:
    user: UserRecord
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    profile: ProfileRecord | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    # a sign-in's proof of a known device (see SignInPolicy)
    device_token: str | None = None


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    provisioning_uri: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_backup_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_rating(rating: str | None) -> str | None:
    """A rating on the G..NC-17 scale (TV ratings accepted and mapped), or an error."""
    if rating is None:
        return None
    known = ratings.normalize(rating)
    if known is None:
        raise IdentityError(
            "Use a rating among G, PG, PG-13, R, NC-17 (or a TV rating).",
            field="maxContentRating",
        )
    return ratings.SCALE[ratings.rank(known)]


class IdentityService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        tokens: TokenService,
        limits: Limits | None = None,
        sign_in: SignInPolicy | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.tokens = tokens
        self.limits = limits or Limits()
        self.sign_in = sign_in or SignInPolicy()
        self.codes = CodeStore(database, settings.redis_url)
        self.limiter = SlidingWindowLimiter(settings.redis_url, "mg:identity:rl")
        self.outbox = Outbox(database, settings)
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def revocations(self) -> RevokedSessions:
        """What this process knows of revoked sessions (shared with every service on the
        same database)."""
        return revoked_sessions(self.database, self.settings.redis_url)

    async def aclose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.codes.aclose()
        await self.limiter.aclose()

    # -- abuse limits --------------------------------------------------------------------
    async def limit(self, bucket: str, key: str | None, rule: Limit) -> None:
        """Count a hit; RATE_LIMITED (with ``retryAfter``) beyond the rule."""
        if not key:
            return
        decision = await self.limiter.hit(
            f"{bucket}:{_digest(key)[:32]}", rule.limit, rule.window_seconds
        )
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.retry_after))
            raise IdentityError(
                f"Too many attempts; try again in {retry_after} seconds.",
                "RATE_LIMITED",
                retryAfter=retry_after,
            )

    # -- lookups -------------------------------------------------------------------------
    async def users_by_ids(self, ids: Sequence[str]) -> list[UserRecord]:
        async with self.database.session() as session:
            result = await session.exec(select(UserRecord).where(col(UserRecord.id).in_(ids)))
            return list(result.all())

    async def profiles_by_user_ids(self, user_ids: Sequence[str]) -> list[ProfileRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ProfileRecord)
                .where(col(ProfileRecord.user_id).in_(user_ids))
                .order_by(col(ProfileRecord.created_at), col(ProfileRecord.id))
            )
            return list(result.all())

    async def user(self, user_id: str) -> UserRecord:
        async with self.database.session() as session:
            user = await session.get(UserRecord, user_id)
        if user is None:
            raise IdentityError("This account no longer exists.", "UNAUTHENTICATED")
        return user

    # -- accounts ------------------------------------------------------------------------
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
    ) -> UserRecord:
        """Create an account. An email that already has one gets the same answer as a new
        one (a record that is not stored) and its owner is told by email instead, so the
        answer never says which addresses have accounts. ``rate_limited=False`` is for the
        service's own accounts (the demo seed), which no client asked for: the per-email
        limit counts in Redis across databases, so a seed into a fresh database must not
        spend it."""
        email = normalize_email(email)
        display_name = display_name.strip()
        if rate_limited:
            await self.limit("register-address", client_address, self.limits.register_per_address)
        if not EMAIL_PATTERN.match(email) or len(email) > 320:
            raise IdentityError("Enter a valid email address.", field="email")
        if rate_limited:
            await self.limit("register-email", email, self.limits.register_per_email)
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
            async with self.database.transaction() as session:
                session.add(record)
        except IntegrityError as exc:
            if user_id is not None:  # an internal caller naming the id wants to know
                raise IdentityError(
                    "An account with this email already exists.", "ALREADY_EXISTS", "email"
                ) from exc
            await self._tell_owner_of_registration_attempt(email)
            return UserRecord(id=new_id(), email=email, display_name=display_name, password_hash="")
        if send_verification:
            await self._send_verification(record)
        return record

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

    async def _tell_owner_of_registration_attempt(self, email: str) -> None:
        async with self.database.session() as session:
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
            f"{self.settings.public_url}/reset-password.\n\nIf it was not you, you can "
            "ignore this email.\n",
        )
        self._spawn_delivery()

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
        policy = self.sign_in
        await self.limit("login-address", client_address, self.limits.login_per_address)
        known_device = await self._known_device(email, device_token)
        origin = f"device:{known_device}" if known_device else f"address:{client_address or '-'}"
        pair_key = f"signin-fail-pair:{_digest(email + '|' + origin)[:32]}"
        account_key = f"signin-fail-account:{_digest(email)[:32]}"
        await self._wait_between_failures(pair_key, policy)
        protected = known_device is None and (
            (await self.limiter.usage(account_key, policy.account_window_seconds)).used
            >= policy.account_ceiling
        )
        async with self.database.session() as session:
            result = await session.exec(select(UserRecord).where(UserRecord.email == email))
            user = result.first()
        valid = await verify_password(user.password_hash if user else None, password)
        if protected and (user is None or not user.totp_secret or not totp_code):
            # the same answer whether the password was right or not: no oracle
            if not valid:
                await self._count_failure(pair_key, account_key, policy)
            raise IdentityError(
                "This account is protected after many failed sign-ins: sign in with the code "
                "from your authenticator app, from a device you signed in on before, or reset "
                "your password.",
                "RATE_LIMITED",
                "totpCode",
                retryAfter=math.ceil(policy.account_window_seconds),
            )
        if user is None or not valid:
            await self._count_failure(pair_key, account_key, policy)
            raise IdentityError("Incorrect email or password.", "UNAUTHENTICATED")
        if user.totp_secret:
            if not totp_code:
                raise IdentityError(
                    "Enter the code from your authenticator app.", "MFA_REQUIRED", "totpCode"
                )
            if not await self._check_second_factor(user, totp_code):
                await self._count_failure(pair_key, account_key, policy)
                raise IdentityError(
                    "That code is wrong or was already used; wait for the next one.",
                    "UNAUTHENTICATED",
                    "totpCode",
                )
        if needs_rehash(user.password_hash):
            user.password_hash = await hash_password(password)
            async with self.database.transaction() as session:
                session.add(user)
        await self.limiter.reset(pair_key)
        signed_in = await self.new_session(user, family_id=new_id())
        if known_device and device_token:
            return dataclasses.replace(signed_in, device_token=device_token)
        return dataclasses.replace(signed_in, device_token=await self._new_device_token(user))

    async def _wait_between_failures(self, pair_key: str, policy: SignInPolicy) -> None:
        """RATE_LIMITED while this account and address (or device) must wait after failures."""
        usage = await self.limiter.usage(pair_key, policy.pair_window_seconds)
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

    async def _count_failure(self, pair_key: str, account_key: str, policy: SignInPolicy) -> None:
        unbounded = 1 << 30
        await self.limiter.hit(pair_key, unbounded, policy.pair_window_seconds)
        await self.limiter.hit(account_key, unbounded, policy.account_window_seconds)

    async def _known_device(self, email: str, device_token: str | None) -> str | None:
        """An id of the device when ``device_token`` is one this account's sign-ins issued."""
        if not device_token or len(device_token) > 200:
            return None
        value = await self.codes.get(code_key("device", device_token))
        if value is None or value.get("email") != email:
            return None
        return _digest(device_token)[:32]

    async def _new_device_token(self, user: UserRecord) -> str:
        token = secrets.token_urlsafe(32)
        await self.codes.put(
            code_key("device", token),
            {"email": user.email, "user_id": user.id},
            self.sign_in.device_token_ttl_seconds,
        )
        return token

    async def refresh(
        self,
        refresh_token: str,
        *,
        client_address: str | None = None,
        client_id: str | None = None,
    ) -> Session:
        """Rotate a refresh token; reusing a rotated one revokes its whole family."""
        await self.limit("refresh-address", client_address, self.limits.refresh_per_address)
        now = utcnow()
        reused = False
        ended: list[Revocation] = []
        async with self.database.transaction() as session:
            result = await session.exec(
                select(RefreshTokenRecord).where(
                    RefreshTokenRecord.token_hash == _digest(refresh_token)
                )
            )
            record = result.first()
            if record is None or record.revoked_at is not None:
                raise IdentityError("This session has ended; sign in again.", "UNAUTHENTICATED")
            if client_id is not None and record.client_id != client_id:
                raise IdentityError("This refresh token belongs to another client.", "FORBIDDEN")
            if as_utc(record.expires_at) <= now:
                raise IdentityError("This session has expired; sign in again.", "UNAUTHENTICATED")
            if record.used_at is not None:
                # theft detection: a rotated token came back; end every session of its family
                # (committed before the refusal is raised)
                await session.exec(
                    update(RefreshTokenRecord)
                    .where(col(RefreshTokenRecord.family_id) == record.family_id)
                    .values(revoked_at=now)
                )
                ended = await self._end_sessions(session, record.user_id, [record.family_id])
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
            await self._announce(ended)
            raise IdentityError(
                "This refresh token was already used; every session of its family was signed out.",
                "REFRESH_TOKEN_REUSED",
            )
        if user is None:
            raise IdentityError("This session has ended; sign in again.", "UNAUTHENTICATED")
        await self.limit("refresh-account", user.id, self.limits.refresh_per_account)
        profile = await self.profile_of(user.id, profile_id) if profile_id else None
        return await self.new_session(
            user,
            family_id=family_id,
            profile=profile,
            scopes=frozenset(scopes.split()) if scopes is not None else None,
            client_id=owner,
        )

    async def logout(self, refresh_token: str) -> bool:
        async with self.database.transaction() as session:
            result = await session.exec(
                select(RefreshTokenRecord).where(
                    RefreshTokenRecord.token_hash == _digest(refresh_token)
                )
            )
            record = result.first()
            if record is None:
                return False
            await session.exec(
                update(RefreshTokenRecord)
                .where(col(RefreshTokenRecord.family_id) == record.family_id)
                .values(revoked_at=utcnow())
            )
            ended = await self._end_sessions(session, record.user_id, [record.family_id])
        await self._announce(ended)
        return True

    async def revoke_all_sessions(self, user_id: str) -> None:
        async with self.database.transaction() as session:
            ended = await self._end_every_session(session, user_id, utcnow())
        await self._announce(ended)

    async def _end_every_session(
        self, session: Any, user_id: str, now: datetime
    ) -> list[Revocation]:
        """In the caller's transaction: revoke every refresh-token family of the account and
        record its sessions as ended (announce the result once the transaction commits)."""
        await session.exec(
            update(RefreshTokenRecord)
            .where(col(RefreshTokenRecord.user_id) == user_id)
            .where(col(RefreshTokenRecord.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        return await self._end_sessions(
            session, user_id, await self._live_sessions(session, user_id=user_id)
        )

    # -- revoked sessions ----------------------------------------------------------------
    async def _live_sessions(
        self, session: Any, *, user_id: str, profile_id: str | None = None
    ) -> list[str]:
        """The sessions (refresh-token families) that may still hold unexpired access tokens:
        an access token is issued with each refresh token, so those with a refresh token
        issued within an access token's lifetime."""
        since = utcnow() - timedelta(
            seconds=self.settings.jwt_access_token_ttl_seconds + 2 * CLOCK_SKEW_SECONDS
        )
        query = (
            select(RefreshTokenRecord.family_id)
            .where(RefreshTokenRecord.user_id == user_id)
            .where(col(RefreshTokenRecord.created_at) >= since)
        )
        if profile_id is not None:
            query = query.where(RefreshTokenRecord.profile_id == profile_id)
        result = await session.exec(query.distinct())
        return [str(family) for family in result.all()]

    async def _end_sessions(
        self, session: Any, user_id: str, session_ids: Iterable[str]
    ) -> list[Revocation]:
        """Record, in the caller's transaction, that these sessions' access tokens are no
        longer good (until the last of them would have expired)."""
        until = int(time.time()) + self.settings.jwt_access_token_ttl_seconds + CLOCK_SKEW_SECONDS
        return await RevokedSessions.record(session, user_id, session_ids, until)

    async def _announce(self, ended: Sequence[Revocation]) -> None:
        """After the commit: every service refuses these sessions' tokens from now on."""
        await self.revocations.announce(
            ended, self.settings.jwt_access_token_ttl_seconds + 2 * CLOCK_SKEW_SECONDS + 60
        )

    async def new_session(
        self,
        user: UserRecord,
        *,
        family_id: str,
        profile: ProfileRecord | None = None,
        scopes: frozenset[str] | None = None,
        client_id: str | None = None,
    ) -> Session:
        """Tokens for a member's own session (all session scopes) or a delegated one."""
        granted = SESSION_SCOPES if scopes is None else scopes
        access_token, access_expires = self.tokens.issue_access_token(
            user.id,
            scopes=granted,
            profile_id=profile.id if profile else None,
            max_content_rating=profile.max_content_rating if profile else None,
            kids=profile.kids if profile else False,
            session_id=family_id,
            extra={"client_id": client_id} if client_id else None,
        )
        refresh_token = secrets.token_urlsafe(32)
        refresh_expires = utcnow() + timedelta(seconds=self.settings.jwt_refresh_token_ttl_seconds)
        async with self.database.transaction() as session:
            session.add(
                RefreshTokenRecord(
                    token_hash=_digest(refresh_token),
                    family_id=family_id,
                    user_id=user.id,
                    expires_at=refresh_expires,
                    profile_id=profile.id if profile else None,
                    scopes=" ".join(sorted(scopes)) if scopes is not None else None,
                    client_id=client_id,
                )
            )
        return Session(
            user, access_token, access_expires, refresh_token, refresh_expires, profile, granted
        )

    # -- email verification and password reset -------------------------------------------
    def _spawn_delivery(self) -> None:
        task = asyncio.get_running_loop().create_task(self.outbox.deliver_pending())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_verification(self, user: UserRecord) -> None:
        token = secrets.token_urlsafe(32)
        await self.codes.put(
            code_key("verify-email", token),
            {"user_id": user.id, "email": user.email},
            EMAIL_TOKEN_TTL.total_seconds(),
        )
        link = f"{self.settings.public_url}/verify-email?token={token}"
        await self.outbox.enqueue(
            user.email,
            "verify-email",
            "Confirm your email address",
            f"Hello {user.display_name},\n\nConfirm your email address with this link "
            f"(valid for 24 hours):\n{link}\n\nVerification code: {token}\n",
        )
        self._spawn_delivery()

    async def request_email_verification(self, user_id: str) -> bool:
        user = await self.user(user_id)
        if user.email_verified_at is not None:
            return False
        await self.limit("verify-email", user.id, self.limits.reset_per_email)
        await self._send_verification(user)
        return True

    async def verify_email(self, token: str) -> UserRecord:
        value = await self.codes.take(code_key("verify-email", token))
        if value is None:
            raise IdentityError(
                "This verification link is invalid, expired or already used.", "INVALID_TOKEN"
            )
        async with self.database.transaction() as session:
            user = await session.get(UserRecord, value["user_id"])
            if user is None or user.email != value["email"]:
                raise IdentityError("This verification link no longer applies.", "INVALID_TOKEN")
            if user.email_verified_at is None:
                user.email_verified_at = utcnow()
                session.add(user)
        return user

    async def request_password_reset(self, email: str) -> None:
        """Always succeeds (no account enumeration); an email goes out if the account exists."""
        email = normalize_email(email)
        async with self.database.session() as session:
            result = await session.exec(select(UserRecord).where(UserRecord.email == email))
            user = result.first()
        if user is None:
            return
        try:
            await self.limit("reset-email", email, self.limits.reset_per_email)
        except IdentityError:
            return  # silently: the answer must not differ
        token = secrets.token_urlsafe(32)
        await self.codes.put(
            code_key("reset-password", token),
            {"user_id": user.id, "password_hash": user.password_hash[-16:]},
            RESET_TOKEN_TTL.total_seconds(),
        )
        link = f"{self.settings.public_url}/reset-password?token={token}"
        await self.outbox.enqueue(
            user.email,
            "reset-password",
            "Reset your password",
            f"Hello {user.display_name},\n\nSomeone asked to reset the password of this "
            f"account. If it was you, choose a new one with this link (valid for 30 "
            f"minutes):\n{link}\n\nReset code: {token}\n\nIf it was not you, ignore this email.\n",
        )
        self._spawn_delivery()

    async def reset_password(self, token: str, new_password: str) -> UserRecord:
        """Set a new password with a reset token; every session of the account ends."""
        key = code_key("reset-password", token)
        pending = await self.codes.get(key)
        if pending is None:
            raise IdentityError(
                "This reset link is invalid, expired or already used.", "INVALID_TOKEN"
            )
        owner = await self.users_by_ids([str(pending["user_id"])])
        await self.check_new_password(  # before the token is spent: a typo keeps the link
            new_password,
            owner[0].email if owner else None,
            owner[0].display_name if owner else None,
            field_name="newPassword",
        )
        value = await self.codes.take(key)
        if value is None:
            raise IdentityError(
                "This reset link is invalid, expired or already used.", "INVALID_TOKEN"
            )
        password_hash = await hash_password(new_password)
        now = utcnow()
        async with self.database.transaction() as session:
            user = await session.get(UserRecord, value["user_id"])
            if user is None or user.password_hash[-16:] != value["password_hash"]:
                raise IdentityError("This reset link no longer applies.", "INVALID_TOKEN")
            user.password_hash = password_hash
            user.password_changed_at = now
            if user.email_verified_at is None:  # the link proved the mailbox
                user.email_verified_at = now
            session.add(user)
            ended = await self._end_every_session(session, user.id, now)
        await self._announce(ended)
        await self.limiter.reset(f"login-account:{_digest(user.email)[:32]}")
        # the mailbox proved the owner: lift the protection failed sign-ins put on
        await self.limiter.reset(f"signin-fail-account:{_digest(user.email)[:32]}")
        return user

    async def change_password(
        self,
        viewer: Claims,
        current_password: str,
        new_password: str,
    ) -> Session:
        """Change the password with the current one. Every session of the account ends,
        this one included; the answer is a new session on the same profile."""
        user = await self.user(viewer.subject)
        await self.limit("login-account", user.email, self.limits.login_per_account)
        if not await verify_password(user.password_hash, current_password):
            raise IdentityError(
                "The current password is not right.", "UNAUTHENTICATED", "currentPassword"
            )
        await self.check_new_password(
            new_password, user.email, user.display_name, field_name="newPassword"
        )
        password_hash = await hash_password(new_password)
        now = utcnow()
        async with self.database.transaction() as session:
            stored = await session.get(UserRecord, user.id)
            if stored is None or stored.password_hash != user.password_hash:
                raise IdentityError(
                    "The password was changed meanwhile; sign in again.", "UNAUTHENTICATED"
                )
            stored.password_hash = password_hash
            stored.password_changed_at = now
            session.add(stored)
            ended = await self._end_every_session(session, user.id, now)
        await self._announce(ended)
        await self.limiter.reset(f"login-account:{_digest(user.email)[:32]}")
        profile = await self.profile_of(user.id, viewer.profile_id) if viewer.profile_id else None
        return await self.new_session(stored, family_id=new_id(), profile=profile)

    async def outbox_for(self, recipient: str) -> list[Any]:
        """The outbox rows of one address, newest first (operators and tests)."""
        from media_gateway.subgraphs.identity.models import EmailOutboxRecord

        async with self.database.session() as session:
            result = await session.exec(
                select(EmailOutboxRecord)
                .where(EmailOutboxRecord.recipient == normalize_email(recipient))
                .order_by(col(EmailOutboxRecord.created_at).desc())
            )
            return list(result.all())

    # -- MFA -----------------------------------------------------------------------------
    def _totp(self, secret: str) -> pyotp.TOTP:
        return pyotp.TOTP(secret)

    async def start_totp_enrolment(self, user_id: str) -> TotpEnrolment:
        user = await self.user(user_id)
        if user.totp_secret:
            raise IdentityError(
                "Two-step sign-in is already on; turn it off first.", "ALREADY_EXISTS"
            )
        secret = pyotp.random_base32()
        async with self.database.transaction() as session:
            stored = await session.get(UserRecord, user_id)
            assert stored is not None
            stored.totp_pending_secret = secret
            session.add(stored)
        uri = self._totp(secret).provisioning_uri(name=user.email, issuer_name="Media Gateway")
        return TotpEnrolment(secret, uri)

    async def confirm_totp_enrolment(self, user_id: str, code: str) -> list[str]:
        """Turn MFA on with a first valid code; returns the one-time backup codes."""
        await self.limit("mfa", user_id, self.limits.mfa_per_account)
        user = await self.user(user_id)
        if not user.totp_pending_secret:
            raise IdentityError("Start the enrolment first.", "BAD_USER_INPUT")
        step = self._matching_step(user.totp_pending_secret, code)
        if step is None:
            raise IdentityError("That code is wrong; try the current one.", field="code")
        codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
        hashes = await asyncio.gather(*(hash_password(c) for c in codes))
        async with self.database.transaction() as session:
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
        return codes

    async def disable_totp(self, user_id: str, code: str) -> bool:
        await self.limit("mfa", user_id, self.limits.mfa_per_account)
        user = await self.user(user_id)
        if not user.totp_secret:
            return False
        if not await self._check_second_factor(user, code):
            raise IdentityError("That code is wrong or was already used.", field="code")
        async with self.database.transaction() as session:
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
        return True

    async def backup_codes_left(self, user_id: str) -> int:
        async with self.database.session() as session:
            result = await session.exec(
                select(BackupCodeRecord.id)
                .where(BackupCodeRecord.user_id == user_id)
                .where(col(BackupCodeRecord.used_at).is_(None))
            )
            return len(result.all())

    def _matching_step(self, secret: str, code: str) -> int | None:
        code = code.strip().replace(" ", "")
        if not code.isdigit() or len(code) != 6:
            return None
        totp = self._totp(secret)
        current = totp.timecode(utcnow())
        for step in (current, current - 1, current + 1):
            if secrets.compare_digest(totp.generate_otp(step), code):
                return step
        return None

    async def _check_second_factor(self, user: UserRecord, code: str) -> bool:
        """A TOTP code of a step after the last one used, or an unused backup code."""
        assert user.totp_secret
        step = self._matching_step(user.totp_secret, code)
        if step is not None:
            # remember the step atomically: the same code (or an older one) never works again
            async with self.database.transaction() as session:
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
        async with self.database.session() as session:
            result = await session.exec(
                select(BackupCodeRecord)
                .where(BackupCodeRecord.user_id == user_id)
                .where(col(BackupCodeRecord.used_at).is_(None))
            )
            candidates = list(result.all())
        for candidate in candidates:
            if await verify_password(candidate.code_hash, code):
                async with self.database.transaction() as session:
                    used = await session.exec(
                        update(BackupCodeRecord)
                        .where(col(BackupCodeRecord.id) == candidate.id)
                        .where(col(BackupCodeRecord.used_at).is_(None))
                        .values(used_at=utcnow())
                    )
                    return used.rowcount == 1
        return False

    # -- profiles ------------------------------------------------------------------------
    async def profile_of(self, user_id: str, profile_id: str) -> ProfileRecord | None:
        async with self.database.session() as session:
            profile = await session.get(ProfileRecord, profile_id)
        return profile if profile is not None and profile.user_id == user_id else None

    async def create_profile(
        self,
        user_id: str,
        *,
        name: str,
        avatar_url: str | None,
        language: str | None,
        kids: bool,
        max_content_rating: str | None,
    ) -> ProfileRecord:
        existing = await self.profiles_by_user_ids([user_id])
        if len(existing) >= MAX_PROFILES:
            raise IdentityError(f"An account has at most {MAX_PROFILES} profiles.")
        profile = ProfileRecord(user_id=user_id, name="", language="en")
        _apply_profile(profile, name, avatar_url, language, kids, max_content_rating)
        async with self.database.transaction() as session:
            session.add(profile)
        return profile

    async def update_profile(
        self,
        user_id: str,
        profile_id: str,
        changes: dict[str, Any],
    ) -> ProfileRecord:
        async with self.database.transaction() as session:
            profile = await session.get(ProfileRecord, profile_id)
            if profile is None or profile.user_id != user_id:
                raise IdentityError("No such profile.", "NOT_FOUND", "profileId")
            _apply_profile(
                profile,
                changes.get("name", profile.name),
                changes.get("avatar_url", profile.avatar_url),
                changes.get("language", profile.language),
                changes.get("kids", profile.kids),
                changes.get("max_content_rating", profile.max_content_rating),
            )
            session.add(profile)
        return profile

    async def delete_profile(self, user_id: str, profile_id: str) -> bool:
        async with self.database.transaction() as session:
            profile = await session.get(ProfileRecord, profile_id)
            if profile is None or profile.user_id != user_id:
                return False
            await session.delete(profile)
            await session.exec(  # sessions on that profile end
                update(RefreshTokenRecord)
                .where(col(RefreshTokenRecord.profile_id) == profile_id)
                .values(revoked_at=utcnow())
            )
            ended = await self._end_sessions(
                session,
                user_id,
                await self._live_sessions(session, user_id=user_id, profile_id=profile_id),
            )
        await self._announce(ended)
        return True

    async def switch_profile(
        self, viewer: Claims, profile_id: str, password: str | None = None
    ) -> Session:
        """New tokens naming ``profile_id``. Leaving a kids profile for another one needs the
        account password (the parental lock)."""
        user = await self.user(viewer.subject)
        profile = await self.profile_of(user.id, profile_id)
        if profile is None:
            raise IdentityError("No such profile.", "NOT_FOUND", "profileId")
        if viewer.kids and not profile.kids:
            await self.limit("login-account", user.email, self.limits.login_per_account)
            if not password or not await verify_password(user.password_hash, password):
                raise IdentityError(
                    "Leaving a kids profile needs the account password.", "FORBIDDEN", "password"
                )
        scopes = viewer.scopes if viewer.scopes != SESSION_SCOPES else None
        client_id = viewer.raw.get("client_id")
        return await self.new_session(
            user,
            family_id=new_id(),
            profile=profile,
            scopes=scopes,
            client_id=str(client_id) if client_id else None,
        )

    # -- API keys ------------------------------------------------------------------------
    async def create_api_key(
        self, user_id: str, name: str, scopes: Sequence[str], expires_in_days: int | None
    ) -> tuple[ApiKeyRecord, str]:
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise IdentityError("Name the key (1 to 100 characters).", field="name")
        wanted = frozenset(scopes)
        unknown = wanted - DELEGABLE_SCOPES
        if not wanted or unknown:
            raise IdentityError(
                "Choose one or more of: " + ", ".join(sorted(DELEGABLE_SCOPES)) + ".",
                field="scopes",
            )
        if expires_in_days is not None and not 1 <= expires_in_days <= 3650:
            raise IdentityError("Expiry must be 1 to 3650 days.", field="expiresInDays")
        active = await self.api_keys(user_id)
        if sum(1 for key in active if key.revoked_at is None) >= MAX_API_KEYS:
            raise IdentityError(f"An account has at most {MAX_API_KEYS} active keys.")
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            user_id=user_id,
            name=name,
            key_hash=api_key_digest(secret),
            prefix=secret[:12],
            scopes=" ".join(sorted(wanted)),
            expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        async with self.database.transaction() as session:
            session.add(record)
        return record, secret

    async def api_keys(self, user_id: str) -> list[ApiKeyRecord]:
        async with self.database.session() as session:
            result = await session.exec(
                select(ApiKeyRecord)
                .where(ApiKeyRecord.user_id == user_id)
                .order_by(col(ApiKeyRecord.created_at).desc())
            )
            return list(result.all())

    async def revoke_api_key(self, user_id: str, key_id: str) -> bool:
        async with self.database.transaction() as session:
            record = await session.get(ApiKeyRecord, key_id)
            if record is None or record.user_id != user_id:
                return False
            if record.revoked_at is None:
                record.revoked_at = utcnow()
                session.add(record)
            digest = record.key_hash
        forget_api_key(digest)
        return True

    # -- demo ----------------------------------------------------------------------------
    async def ensure_demo_account(self) -> None:
        from media_gateway.platform.demo import (
            DEMO_DISPLAY_NAME,
            DEMO_EMAIL,
            DEMO_PASSWORD,
            DEMO_USER_ID,
        )

        async with self.database.session() as session:
            if await session.get(UserRecord, DEMO_USER_ID) is not None:
                return
        with contextlib.suppress(IdentityError):  # created meanwhile by another replica
            await self.register(
                DEMO_EMAIL,
                DEMO_PASSWORD,
                DEMO_DISPLAY_NAME,
                user_id=DEMO_USER_ID,
                send_verification=False,
                rate_limited=False,
            )


def _apply_profile(
    profile: ProfileRecord,
    name: str,
    avatar_url: str | None,
    language: str | None,
    kids: bool,
    max_content_rating: str | None,
) -> None:
    name = name.strip()
    if not 1 <= len(name) <= 60:
        raise IdentityError("Name the profile (1 to 60 characters).", field="name")
    if avatar_url is not None and (
        len(avatar_url) > 500 or not avatar_url.startswith(("https://", "/"))
    ):
        raise IdentityError("Use an https:// or relative avatar URL.", field="avatarUrl")
    language = (language or "en").strip()
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", language):
        raise IdentityError("Use a language tag such as en or pt-BR.", field="language")
    rating = normalize_rating(max_content_rating)
    if kids:  # a kids profile always has a maximum, and never above KIDS_MAX_RATING
        if rating is None:
            rating = KIDS_MAX_RATING
        elif ratings.rank(rating) > ratings.rank(KIDS_MAX_RATING):
            raise IdentityError(
                f"A kids profile allows at most {KIDS_MAX_RATING}.", field="maxContentRating"
            )
    profile.name = name
    profile.avatar_url = avatar_url
    profile.language = language
    profile.kids = kids
    profile.max_content_rating = rating
