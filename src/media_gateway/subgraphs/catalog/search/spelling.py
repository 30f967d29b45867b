"""Spelling correction over the catalog's own vocabulary (SymSpell: symmetric deletes).

Every vocabulary word is indexed under each string obtained by deleting up to
``max_distance`` characters; a query word's deletes meet them, and the candidates are
checked with the optimal-string-alignment (Damerau-Levenshtein) distance.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise

from symspellpy import SymSpell, Verbosity

from media_gateway.subgraphs.catalog.search.vocabulary import STOPWORDS
from media_gateway.subgraphs.catalog.text import fold


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


# -- whole queries ----------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")
_LETTERS_DIGITS = re.compile(r"[a-z]+|[0-9]+")
_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii", "xiii")
_NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
)
_MAX_PIECES = 4  # a run-together word is split into at most this many words


def numeral_forms(word: str) -> tuple[str, ...]:
    """The ways a title writes a small number: "2", "ii", "two" (empty for other words).

    "i" and "x" alone are letters more often than numerals; they count only as the numeral
    forms of a digit (``numeral_forms("1")`` includes "i").
    """
    value: int | None = None
    if word.isdigit() and len(word) <= 2:
        value = int(word)
    elif word in _ROMAN and word not in {"i", "x", "v"}:
        value = _ROMAN.index(word) + 1
    elif word in _NUMBER_WORDS:
        value = _NUMBER_WORDS.index(word)
    if value is None or not 1 <= value <= len(_ROMAN):
        return ()
    forms = (str(value), _ROMAN[value - 1])
    return (*forms, _NUMBER_WORDS[value]) if value < len(_NUMBER_WORDS) else forms


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Common English words (the word list that ships with symspellpy): a query word found
    here is a real word, kept as typed even when no title uses it ("dreams within dreams")."""
    source = resources.files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt")
    words: set[str] = set()
    with source.open(encoding="utf-8") as handle:
        for line in handle:
            word = line.split(" ", 1)[0]
            if word.isalpha():
                words.add(word)
    return frozenset(words)


class QueryCorrector:
    """Corrects whole queries against the catalog's vocabulary.

    Word frequencies are title popularity: each title adds ``1 + popularity / 10`` to each of
    its words, so a correction leans toward the words of popular titles. Word pairs that occur
    in a title (adjacent, or one word apart) are remembered to choose between corrections and
    numeral forms in context. A query whose words are all known (to the catalog or as English
    words) is never rewritten, except to join a split compound the catalog writes as one word
    ("spider man" -> "spiderman") or to write a numeral the way the catalog's title does
    ("rocky 2" -> "rocky ii").
    """

    def __init__(self, max_distance: int = 2) -> None:
        self.max_distance = max_distance
        self.frequencies: dict[str, float] = {}
        self.pairs: set[tuple[str, str]] = set()
        self._index: SymSpell | None = None  # built from the frequencies on first use
        self._total = 0.0
        self._longest = 0
        self._english = english_words()  # read once per process, at the first index build

    def add(self, word: str, frequency: float = 1.0) -> None:
        if not word:
            return
        self.frequencies[word] = self.frequencies.get(word, 0.0) + frequency
        self._total += frequency
        self._longest = max(self._longest, len(word))
        self._index = None

    @property
    def _symspell(self) -> SymSpell:
        if self._index is None:
            index = SymSpell(max_dictionary_edit_distance=self.max_distance, prefix_length=7)
            total = 0
            for word, frequency in self.frequencies.items():
                count = max(1, round(frequency * 10))
                index.create_dictionary_entry(word, count)
                total += count
            index.N = max(total, 1)  # word probabilities over this vocabulary
            self._index = index
        return self._index

    def add_all(self, words: Iterable[str], frequency: float = 1.0) -> None:
        for word in words:
            self.add(word, frequency)

    def add_phrase(self, words: Sequence[str], frequency: float = 1.0) -> None:
        """A title's (or a name's) words, in order: the words and the pairs they form."""
        self.add_all(words, frequency)
        for index, word in enumerate(words):
            for following in words[index + 1 : index + 3]:
                self.pairs.add((word, following))

    def __contains__(self, word: str) -> bool:
        return word in self.frequencies

    def known(self, word: str) -> bool:
        return (
            word in self.frequencies or word in STOPWORDS or word.isdigit() or word in self._english
        )

    # -- pieces ---------------------------------------------------------------------------

    def _candidates(self, word: str, limit: int) -> list[tuple[str, int]]:
        if limit == 0 or not word.isalpha():
            return []
        found = self._symspell.lookup(word, Verbosity.ALL, max_edit_distance=limit)
        return [(item.term, item.distance) for item in found]

    def _in_context(self, word: str, before: str | None, after: str | None) -> bool:
        return (before is not None and (before, word) in self.pairs) or (
            after is not None and (word, after) in self.pairs
        )

    def _best_correction(
        self, word: str, before: str | None, after: str | None
    ) -> tuple[str, int] | None:
        """The catalog word meant: first one that forms a title's word pair with a
        neighbouring query word ("the dark nite" -> knight), which may be one edit further
        than a short word otherwise allows; else the nearest; then the most frequent (the most
        popular titles')."""
        limit = allowed_distance(word, self.max_distance)
        if limit == 0:
            return None
        candidates = self._candidates(word, min(limit + 1, self.max_distance))
        in_context = [c for c in candidates if self._in_context(c[0], before, after)]
        pool = in_context or [c for c in candidates if c[1] <= limit]
        if not pool:
            return None
        return min(pool, key=lambda c: (c[1], -self.frequencies.get(c[0], 0.0), c[0]))

    def _valid_split(self, pieces: Sequence[str]) -> bool:
        """Catalog words; a one-letter piece only where a title pairs it with its neighbour
        ("walle" -> wall e, for "WALL-E"), never "godfathers" -> godfather s."""
        if not 1 < len(pieces) <= _MAX_PIECES:
            return False
        if not all(p in self.frequencies or p.isdigit() for p in pieces):
            return False
        for index, piece in enumerate(pieces):
            if len(piece) > 1 or piece.isdigit():
                continue
            before = pieces[index - 1] if index > 0 else None
            after = pieces[index + 1] if index + 1 < len(pieces) else None
            if not self._in_context(piece, before, after):
                return False
        return True

    def _segment(self, run: str) -> list[str] | None:
        """The fewest catalog words that spell ``run`` exactly, the likeliest first."""
        longest = self._longest
        frequencies = self.frequencies
        # best[i]: (pieces, cost, start of the last piece) for run[:i]
        best: list[tuple[int, float, int] | None] = [None] * (len(run) + 1)
        best[0] = (0, 0.0, 0)
        for end in range(1, len(run) + 1):
            for start in range(max(0, end - longest), end):
                before = best[start]
                if before is None:
                    continue
                frequency = frequencies.get(run[start:end])
                if frequency is None:
                    continue
                option = (before[0] + 1, before[1] - math.log(frequency / self._total), start)
                current = best[end]
                if current is None or option[:2] < current[:2]:
                    best[end] = option
        if best[len(run)] is None:
            return None
        pieces: list[str] = []
        end = len(run)
        while end > 0:
            start = best[end][2]  # type: ignore[index]
            pieces.append(run[start:end])
            end = start
        return pieces[::-1]

    def split(self, word: str, *, typos: bool = True) -> list[str] | None:
        """A run-together word as the catalog's words ("jurassicpark" -> jurassic park,
        "toystory2" -> toy story 2); with ``typos``, one typo in it is tolerated
        ("jurasicpark")."""
        if len(word) < 4:
            return None
        pieces: list[str] = []
        for run in _LETTERS_DIGITS.findall(word):
            if run.isdigit() or run in self.frequencies:
                pieces.append(run)
                continue
            if len(run) < 4:
                return None
            parts = self._segment(run)
            if (parts is None or not self._valid_split(parts)) and typos and len(run) >= 7:
                fuzzy = self._symspell.word_segmentation(run, max_edit_distance=1)
                parts = fuzzy.corrected_string.split()
                if fuzzy.distance_sum - (len(parts) - 1) > 1:
                    return None
            if parts is None or not self._valid_split(parts):
                return None
            pieces.extend(parts)
        return pieces if len(pieces) > 1 else None

    def _numeral(self, words: list[str], index: int) -> str:
        """A numeral written the way a title next to the other query words writes it."""
        word = words[index]
        forms = numeral_forms(word)
        if not forms:
            return word
        before = words[index - 1] if index > 0 else None
        after = words[index + 1] if index + 1 < len(words) else None
        near = [w for w in (words[index - 2] if index > 1 else None, before) if w]
        if any((w, word) in self.pairs for w in near) or (after and (word, after) in self.pairs):
            return word
        for form in forms:
            if form != word and (
                any((w, form) in self.pairs for w in near)
                or (after is not None and (form, after) in self.pairs)
            ):
                return form
        return word

    # -- queries --------------------------------------------------------------------------

    def correct(self, text: str) -> tuple[str, bool]:
        """The query as the catalog writes it, and whether anything was rewritten."""
        words = _TOKEN.findall(fold(text))
        if not words:
            return text, False
        out: list[str] = []
        index = 0
        while index < len(words):
            word = words[index]
            following = words[index + 1] if index + 1 < len(words) else None
            # a split compound the catalog writes as one word: "spider man" -> "spiderman"
            if following is not None and word.isalpha() and following.isalpha():
                joined = word + following
                if joined in self.frequencies and (
                    not (self.known(word) and self.known(following))
                    or (word, following) not in self.pairs
                ):
                    out.append(joined)
                    index += 2
                    continue
            if self.known(word):
                # an English word no title uses may still be a title's words run together
                # ("diehard" -> die hard): split only into words a title has side by side
                pieces = None if word in self.frequencies else self.split(word, typos=False)
                if pieces is not None and all(pair in self.pairs for pair in pairwise(pieces)):
                    out.extend(pieces)
                else:
                    out.append(word)
                index += 1
                continue
            before = out[-1] if out else None
            # catalog words run together, else the nearest catalog word, else (slowest) run
            # together with a typo inside
            pieces = self.split(word, typos=False)
            best = self._best_correction(word, before, following) if pieces is None else None
            if pieces is None and best is None:
                pieces = self.split(word)
            if pieces is not None:
                out.extend(pieces)
            else:
                out.append(best[0] if best is not None else word)
            index += 1
        out = [self._numeral(out, i) for i in range(len(out))]
        corrected = " ".join(out)
        if corrected == " ".join(words):
            return text, False
        return corrected, True
