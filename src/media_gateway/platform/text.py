"""Text normalisation shared by the subgraphs: case/accent folding and stopwords."""

from __future__ import annotations

import unicodedata

STOPWORDS: frozenset[str] = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "with",
        "about",
        "by",
        "some",
        "any",
        "me",
        "show",
        "find",
        "give",
        "i",
        "want",
        "watch",
        "something",
        "that",
        "are",
        "is",
        "be",
    }
)


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse whitespace: the form searches compare."""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())
