"""Autocomplete over titles, people and genres: word-prefix matching from the second
character, one typo tolerated in the word being typed, ranked by match quality and
popularity."""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from media_gateway.subgraphs.catalog.search.spelling import SpellingCorrector
from media_gateway.subgraphs.catalog.search.vocabulary import STOPWORDS
from media_gateway.subgraphs.catalog.text import fold

_WORD = re.compile(r"[a-z0-9]+")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_CACHED_PREFIX = 3  # best entries are cached for prefixes up to this length
_CACHE_DEPTH = 200
_WORD_SCAN_LIMIT = 5_000  # entries of a typed word read to match the word being typed


@dataclass(frozen=True)
class Suggestion:
    kind: str  # title | person | genre
    id: str
    text: str
    popularity: float
    rating_rank: int  # for parental filtering (people and genres: 0)


@dataclass(frozen=True)
class AutocompleteHit:
    suggestion: Suggestion
    score: float


def _one_edit_variants(token: str) -> set[str]:
    variants: set[str] = set()
    for i in range(len(token) + 1):
        for ch in _ALPHABET:
            variants.add(token[:i] + ch + token[i:])  # insertion
    for i in range(len(token)):
        variants.add(token[:i] + token[i + 1 :])  # deletion
        for ch in _ALPHABET:
            variants.add(token[:i] + ch + token[i + 1 :])  # substitution
        if i + 1 < len(token):
            variants.add(token[:i] + token[i + 1] + token[i] + token[i + 2 :])  # transposition
    variants.discard(token)
    return {v for v in variants if len(v) >= 2}


class Autocompleter:
    def __init__(self) -> None:
        self.entries: list[Suggestion] = []
        self._entry_words: list[frozenset[str]] = []
        self._folded: list[str] = []
        self._postings: dict[str, list[int]] = {}  # word -> entries, best first
        self._words: list[str] = []
        self._cache: dict[str, list[int]] = {}
        self._max_popularity = 1.0
        self.corrector = SpellingCorrector()

    def build(self, suggestions: Iterable[Suggestion]) -> None:
        # entries ordered by popularity: a lower index is a more popular entry
        self.entries = sorted(suggestions, key=lambda s: -s.popularity)
        self._max_popularity = max((e.popularity for e in self.entries), default=1.0) or 1.0
        self._folded = [fold(s.text) for s in self.entries]
        self._entry_words = [frozenset(_WORD.findall(text)) for text in self._folded]
        postings: dict[str, list[int]] = {}
        for index, words in enumerate(self._entry_words):
            for word in words:
                postings.setdefault(word, []).append(index)
        self._postings = postings  # ascending entry indexes: most popular first
        self._words = sorted(postings)
        self._cache = {}
        corrector = SpellingCorrector()
        for word, items in postings.items():
            corrector.add(word, float(len(items)))
        self.corrector = corrector

    def _word_range(self, prefix: str) -> tuple[int, int]:
        lo = bisect.bisect_left(self._words, prefix)
        hi = bisect.bisect_left(self._words, prefix + "\uffff")
        return lo, hi

    def _best_for_prefix(self, prefix: str, depth: int) -> list[int]:
        """Entries having a word that starts with ``prefix``, most popular first."""
        if len(prefix) <= _CACHED_PREFIX and prefix in self._cache:
            return self._cache[prefix]
        lo, hi = self._word_range(prefix)
        found: set[int] = set()
        for i in range(lo, hi):
            found.update(self._postings[self._words[i]][:depth])
        out = heapq.nsmallest(depth, found)
        if len(prefix) <= _CACHED_PREFIX:
            self._cache[prefix] = out
        return out

    def _candidates(self, words: list[str], prefix: str, depth: int) -> list[int]:
        """Entries having every typed word and a word starting with ``prefix``, most popular
        first. After a space ("star wa") the entries of the rarest typed word are read, so
        the popular entries of a short prefix ("wa") do not crowd the intended ones out."""
        postings = [self._postings.get(word, []) for word in words if word not in STOPWORDS]
        rarest = min(postings, key=len, default=None)
        if rarest is None or len(rarest) > _WORD_SCAN_LIMIT:
            return self._best_for_prefix(prefix, depth)
        lo, hi = self._word_range(prefix)
        if hi - lo <= 0:
            return []
        found: list[int] = []
        for index in rarest:
            if any(word.startswith(prefix) for word in self._entry_words[index]):
                found.append(index)
                if len(found) >= depth:
                    break
        return found

    def _has_prefix(self, prefix: str) -> bool:
        lo, hi = self._word_range(prefix)
        return hi > lo

    def complete(
        self, text: str, limit: int, allow: Callable[[Suggestion], bool] | None = None
    ) -> list[AutocompleteHit]:
        folded = fold(text)[:200]
        tokens = _WORD.findall(folded)
        if not tokens or len(folded.strip()) < 2:
            return []
        *complete_words, last = tokens
        # fix typos in the words already typed; the word being typed may be one edit off
        fixed: list[str] = []
        for word in complete_words:
            suggestion = self.corrector.lookup(word)
            fixed.append(suggestion.word if suggestion else word)
        prefixes = [(last, 0)]
        if len(last) >= 3 and len(self._best_for_prefix(last, limit)) < limit:
            variants = sorted(v for v in _one_edit_variants(last) if self._has_prefix(v))
            prefixes.extend((variant, 1) for variant in variants[:20])
        depth = max(_CACHE_DEPTH, limit * 4)
        scored: dict[int, float] = {}
        phrase = " ".join([*fixed, last])
        max_popularity = self._max_popularity
        for prefix, typos in prefixes:
            for index in self._candidates(fixed, prefix, depth):
                words = self._entry_words[index]
                if any(word not in words for word in fixed):
                    continue
                entry = self.entries[index]
                if allow is not None and not allow(entry):
                    continue
                full = self._folded[index]
                quality = 3.0 if full.startswith(phrase) else 2.0
                if full == phrase:
                    quality = 4.0
                quality -= 1.5 * typos
                score = quality + entry.popularity / max_popularity
                if score > scored.get(index, float("-inf")):
                    scored[index] = score
        best = sorted(scored.items(), key=lambda item: (-item[1], self.entries[item[0]].text))
        return [AutocompleteHit(self.entries[i], score) for i, score in best[:limit]]
