"""Titles the catalog holds twice (one title written two ways by two feeds, from before
ingestion resolved them): the duplicate never outranks its original in search."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from media_gateway.subgraphs.catalog.text import (
    RUNTIME_TOLERANCE,
    TRAILING_ARTICLE,
    fold,
    title_key,
)


class _Titled(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def year(self) -> int | None: ...

    @property
    def runtime(self) -> int | None: ...


@lru_cache(maxsize=262_144)
def _key(title: str) -> str:
    return title_key(title)


def _original_rank(doc: _Titled) -> tuple[bool, int, str]:
    """Which of two writings is the original: the one written as the catalog displays titles
    (not "Matrix, The"), then the one holding the title's plain id (a later title whose id was
    taken gets a suffix)."""
    return (TRAILING_ARTICLE.match(fold(doc.title)) is not None, len(doc.id), doc.id)


def _same_release(a: _Titled, b: _Titled) -> bool:
    """The same year (or one unknown), or a year apart with runtimes that agree, as
    ingestion resolves titles."""
    if a.year is None or b.year is None or a.year == b.year:
        return True
    return (
        abs(a.year - b.year) == 1
        and bool(a.runtime and b.runtime)
        and abs((a.runtime or 0) - (b.runtime or 0)) <= RUNTIME_TOLERANCE
    )


@dataclass(frozen=True)
class Duplicates:
    """Row indexes of duplicates and, at the same positions, of their originals."""

    duplicates: np.ndarray
    originals: np.ndarray

    @classmethod
    def find(cls, docs: Sequence[_Titled | None]) -> Duplicates:
        groups: dict[tuple[str, str], list[int]] = {}
        for index, doc in enumerate(docs):
            if doc is not None:
                groups.setdefault((doc.kind, _key(doc.title)), []).append(index)
        pairs: list[tuple[int, int]] = []
        for members in groups.values():
            if len(members) < 2:
                continue
            ranked = sorted(members, key=lambda i: _original_rank(docs[i]))  # type: ignore[arg-type]
            for position, index in enumerate(ranked):
                for earlier in ranked[:position]:
                    if _same_release(docs[index], docs[earlier]):  # type: ignore[arg-type]
                        pairs.append((index, earlier))
                        break
        return cls(
            np.array([d for d, _ in pairs], dtype=np.int64),
            np.array([o for _, o in pairs], dtype=np.int64),
        )

    def demote(self, score: np.ndarray, popularity: np.ndarray, weight: float) -> None:
        """Lower each matched duplicate's score below its matched original's, where the
        final order is ``score + popularity * weight``."""
        if not len(self.duplicates):
            return
        dup, orig = self.duplicates, self.originals
        both = (score[dup] > 0) & (score[orig] > 0)
        dup, orig = dup[both], orig[both]
        ceiling = score[orig] + weight * (popularity[orig] - popularity[dup]) - 1e-9
        score[dup] = np.minimum(score[dup], ceiling)


NO_DUPLICATES = Duplicates(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
