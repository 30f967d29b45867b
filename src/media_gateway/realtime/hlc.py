"""Hybrid logical clocks: timestamps that order events across devices and servers.

A timestamp is ``(wall milliseconds, counter, node)`` printed as a fixed-width string, so
that string order is timestamp order and every timestamp is unique to the node that made
it. ``tick`` stamps a local event; ``observe`` merges a timestamp received from elsewhere,
so that whatever happens next is ordered after it even when the clocks disagree.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass

_FORMAT = re.compile(r"^(\d{15})-(\d{6})-([A-Za-z0-9_.:]{1,64})$")
MAX_DRIFT_MS = 24 * 3600 * 1000


class InvalidTimestamp(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Timestamp:
    wall_ms: int
    counter: int
    node: str

    def __str__(self) -> str:
        return f"{self.wall_ms:015d}-{self.counter:06d}-{self.node}"

    @classmethod
    def parse(cls, text: str) -> Timestamp:
        match = _FORMAT.match(text)
        if match is None:
            raise InvalidTimestamp(f"not a hybrid logical clock timestamp: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)), match.group(3))


class HybridLogicalClock:
    def __init__(self, node: str | None = None, now_ms: object = None) -> None:
        self.node = node or uuid.uuid4().hex[:12]
        self._wall = 0
        self._counter = 0
        self._lock = threading.Lock()

    @staticmethod
    def _physical() -> int:
        return int(time.time() * 1000)

    def tick(self) -> Timestamp:
        with self._lock:
            physical = self._physical()
            if physical > self._wall:
                self._wall, self._counter = physical, 0
            else:
                self._counter += 1
            return Timestamp(self._wall, self._counter, self.node)

    def observe(self, remote: Timestamp) -> Timestamp:
        """Merge a received timestamp (refusing ones absurdly far in the future)."""
        with self._lock:
            physical = self._physical()
            if remote.wall_ms > physical + MAX_DRIFT_MS:
                raise InvalidTimestamp("timestamp is too far in the future")
            wall = max(self._wall, remote.wall_ms, physical)
            if wall == self._wall == remote.wall_ms:
                counter = max(self._counter, remote.counter) + 1
            elif wall == self._wall:
                counter = self._counter + 1
            elif wall == remote.wall_ms:
                counter = remote.counter + 1
            else:
                counter = 0
            self._wall, self._counter = wall, counter
            return Timestamp(wall, counter, self.node)
