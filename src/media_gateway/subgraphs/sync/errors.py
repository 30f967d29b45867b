"""What sync refuses, with the code a client sees."""

from __future__ import annotations


class SyncError(Exception):
    def __init__(self, message: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.code = code


def not_your_device() -> SyncError:
    """The one answer for a device that does not exist or is someone else's: NOT_FOUND, so
    that nobody learns whether another member's device id exists."""
    return SyncError("No such device.", "NOT_FOUND")
