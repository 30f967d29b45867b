"""What every identity sub-domain shares: its refusals, its abuse limits, and the stores of
short-lived codes and rate-limit windows (Redis when configured, else SQL / in process)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from media_gateway.platform.ratelimit import SlidingWindowLimiter
from media_gateway.platform.settings import Settings
from media_gateway.storage.database import Database
from media_gateway.subgraphs.identity.codes import CodeStore


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
    # form posts of the identity service's pages, per page and client address
    page_posts: Limit = Limit(30, 300)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login_account_key(email: str) -> str:
    """The window of password checks of a signed-in member (``Limits.login_per_account``)."""
    return f"login-account:{digest(email)[:32]}"


def failed_sign_ins_key(email: str) -> str:
    """The window of an account's failed sign-ins from everywhere (``SignInPolicy``)."""
    return f"signin-fail-account:{digest(email)[:32]}"


class IdentityStores:
    """The database, settings and abuse limits of the identity service, with its short-lived
    codes and rate-limit windows. Every sub-domain service holds the same one."""

    def __init__(self, database: Database, settings: Settings, limits: Limits | None = None):
        self.database = database
        self.settings = settings
        self.limits = limits or Limits()
        self.codes = CodeStore(database, settings.redis_url)
        self.limiter = SlidingWindowLimiter(settings.redis_url, "mg:identity:rl")

    async def limit(self, bucket: str, key: str | None, rule: Limit) -> None:
        """Count a hit; RATE_LIMITED (with ``retryAfter``) beyond the rule."""
        if not key:
            return
        decision = await self.limiter.hit(
            f"{bucket}:{digest(key)[:32]}", rule.limit, rule.window_seconds
        )
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.retry_after))
            raise IdentityError(
                f"Too many attempts; try again in {retry_after} seconds.",
                "RATE_LIMITED",
                retryAfter=retry_after,
            )

    async def aclose(self) -> None:
        await self.codes.aclose()
        await self.limiter.aclose()
