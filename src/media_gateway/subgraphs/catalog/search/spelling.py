"""Spelling correction over the catalog's own vocabulary (SymSpell: symmetric deletes).

Every vocabulary word is indexed under each string obtained by deleting up to
``max_distance`` characters; a query word's deletes meet them, and the candidates are
checked with the optimal-string-alignment (Damerau-Levenshtein) distance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def _deletes(word: str, distance: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(distance):
        next_frontier: set[str] = set()
        for item in frontier:
            if len(item) <= 1:
                continue
            for index in range(len(item)):
                next_frontier.add(item[:index] + item[index + 1 :])
        found |= next_frontier
        frontier = next_frontier
    return found


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance, or ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        best = current[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[len(b)]


@dataclass(frozen=True)
class Suggestion:
    word: str
    distance: int
    frequency: float


def allowed_distance(word: str, max_distance: int = 2) -> int:
    """Short words tolerate fewer edits (one up to five letters, two from six)."""
    if len(word) <= 2:
        return 0
    if len(word) <= 5:
        return min(1, max_distance)
    return max_distance


class SpellingCorrector:
    def __init__(self, max_distance: int = 2) -> None:
        self.max_distance = max_distance
        self.frequencies: dict[str, float] = {}
        self._deletes: dict[str, list[str]] = {}

    def add(self, word: str, frequency: float = 1.0) -> None:
        if not word:
            return
        known = word in self.frequencies
        self.frequencies[word] = self.frequencies.get(word, 0.0) + frequency
        if known:
            return
        for deleted in _deletes(word, self.max_distance):
            self._deletes.setdefault(deleted, []).append(word)

    def add_all(self, words: Iterable[str], frequency: float = 1.0) -> None:
        for word in words:
            self.add(word, frequency)

    def __contains__(self, word: str) -> bool:
        return word in self.frequencies

    def lookup(self, word: str, max_distance: int | None = None) -> Suggestion | None:
        """The closest known word (then the most frequent), or None beyond the distance."""
        if word in self.frequencies:
            return Suggestion(word, 0, self.frequencies[word])
        limit = allowed_distance(word, self.max_distance if max_distance is None else max_distance)
        if limit == 0:
            return None
        best: Suggestion | None = None
        seen: set[str] = set()
        for deleted in _deletes(word, limit):
            for candidate in self._deletes.get(deleted, ()):
                if candidate in seen:
                    continue
                seen.add(candidate)
                distance = edit_distance(word, candidate, limit)
                if distance > limit:
                    continue
                frequency = self.frequencies[candidate]
                if (
                    best is None
                    or distance < best.distance
                    or (distance == best.distance and frequency > best.frequency)
                ):
                    best = Suggestion(candidate, distance, frequency)
        return best
