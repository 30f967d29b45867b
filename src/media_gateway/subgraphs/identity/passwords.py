"""Password hashing with argon2id (argon2-cffi, RFC 9106 recommended parameters)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id; RFC 9106 low-memory profile
_DUMMY_HASH = _hasher.hash("a password nobody has")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash, spend the same time and fail (no user enumeration)."""

    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
