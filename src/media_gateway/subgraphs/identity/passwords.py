"""Password policy (NIST SP 800-63B) and hashing with argon2id (argon2-cffi, RFC 9106).

The policy: at least 8 characters, up to 128 (long passphrases welcome), no composition
rules, no control characters, and nothing a guesser tries early: the zxcvbn strength
estimator (its lists of common passwords, words, names, keyboard patterns, repeats and
sequences, plus the account's own email and name) must rate it at least "safely
unguessable" (score 3 of 4, about 10^8 guesses or more).
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()  # argon2id; RFC 9106 low-memory profile
_DUMMY_HASH = _hasher.hash("a password nobody has")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128
MIN_STRENGTH_SCORE = 3
# zxcvbn's own ceiling: its matching cost grows fast with length, and the first 72
# characters of a passphrase are what a guesser has to get right first
_ESTIMATED_PREFIX = 72
_LONGEST_STORED = 1024


@dataclass(frozen=True)
class PasswordRefusal:
    """Why a new password is refused: ``reason`` is ``too_short``, ``too_long``,
    ``control_characters`` or ``too_common``; ``message`` says what to do."""

    reason: str
    message: str


def password_refusal(password: str, user_inputs: Sequence[str] = ()) -> PasswordRefusal | None:
    """The policy's verdict on a new password (``None``: acceptable). CPU-bound for a few
    milliseconds; run it off the event loop (``check_new_password``)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return PasswordRefusal(
            "too_long", f"Choose a password of at most {MAX_PASSWORD_LENGTH} characters."
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        return PasswordRefusal(
            "too_short", f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."
        )
    if any(unicodedata.category(ch) == "Cc" for ch in password):
        return PasswordRefusal(
            "control_characters", "A password cannot contain control characters."
        )
    inputs = [part for text in user_inputs for part in _words(text)]
    estimate = zxcvbn(password[:_ESTIMATED_PREFIX], user_inputs=inputs)
    if estimate["score"] < MIN_STRENGTH_SCORE:
        warning = estimate["feedback"].get("warning") or "It would be guessed quickly."
        return PasswordRefusal(
            "too_common",
            f"This password is too easy to guess. {warning.rstrip('.')}. "
            "A few uncommon words make a strong passphrase.",
        )
    return None


async def check_new_password(
    password: str, user_inputs: Sequence[str] = ()
) -> PasswordRefusal | None:
    if len(password) > MAX_PASSWORD_LENGTH:  # no estimation work for oversized input
        return password_refusal(password)
    return await asyncio.to_thread(password_refusal, password, user_inputs)


def _words(text: str) -> list[str]:
    """An email or display name as the words a guesser would try."""
    lowered = text.strip().lower()
    parts = [lowered]
    local = lowered.split("@", 1)[0]
    parts.append(local)
    parts.extend(p for p in local.replace(".", " ").replace("-", " ").split() if len(p) > 2)
    parts.extend(p for p in lowered.split() if len(p) > 2)
    return [p for p in dict.fromkeys(parts) if p]


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash, spend the same time and fail (no user enumeration)."""
    # no stored password is longer than the former limit of 1,024 characters: never hash
    # megabytes posted to a sign-in form
    oversized = len(password) > _LONGEST_STORED

    def check() -> bool:
        try:
            if oversized:
                _hasher.verify(_DUMMY_HASH, "a password nobody has")
                return False
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
