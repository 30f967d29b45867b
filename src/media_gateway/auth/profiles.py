"""Whose data a caller reads and writes: the viewing profile it acts for.

As on streaming services, the watchlist, continue watching, watch history and what
recommendations learn from belong to one viewing profile of an account, not to the account.
An access token names the active profile (``pid``). A caller without one (a member's session
before a profile was chosen, an API key) acts for the account's default profile, stored as
``DEFAULT_PROFILE``: data saved before profiles owned their data is the default profile's.

Real-time events name the profile they belong to (``profileId`` in their payload; absent on
events recorded before, which are the default profile's), and subscribers receive only their
own profile's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from media_gateway.auth.tokens import Claims

DEFAULT_PROFILE = ""  # profile ids are never empty: this one names no created profile
PROFILE_ID_LENGTH = 64


def profile_of(viewer: Claims | None) -> str:
    """The profile whose data the caller acts on (``DEFAULT_PROFILE`` without one)."""
    if viewer is None or not viewer.profile_id:
        return DEFAULT_PROFILE
    return viewer.profile_id


def event_profile(message: Mapping[str, Any]) -> str:
    """The profile a real-time event belongs to."""
    payload = message.get("payload")
    if not isinstance(payload, Mapping):
        return DEFAULT_PROFILE
    return str(payload.get("profileId") or DEFAULT_PROFILE)
