"""Identifiers and search keys derived from titles."""

from __future__ import annotations

import re

from media_gateway.platform.text import fold as fold

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _NON_WORD.sub("-", fold(text)).strip("-") or "untitled"


def content_id(kind: str, title: str, year: int | None) -> str:
    suffix = f"-{year}" if year else ""
    return f"{kind}:{slug(title)}{suffix}"


def season_id(series_id: str, season_number: int) -> str:
    return f"{series_id}:s{season_number:02d}"


def episode_id(series_id: str, season_number: int, episode_number: int) -> str:
    return f"{series_id}:s{season_number:02d}e{episode_number:02d}"


# -- title keys: one title however a feed writes it ---------------------------------------

RUNTIME_TOLERANCE = 10  # minutes two records of one title may differ by

_ARTICLES = ("the", "a", "an", "la", "le", "les", "l'", "el", "il", "der", "die", "das")
TRAILING_ARTICLE = re.compile(
    r"^(?P<body>.+?),\s*(?P<article>the|a|an|la|le|les|l'|el|il|der|die|das)"
    r"(?P<rest>\s*(?:\(.*\))?)$"
)
_SUBTITLE = re.compile("\\s*(?::|\\s[-\u2013\u2014]\\s)\\s*")  # ":", " - " and its dashes
_ROMAN_NUMERALS = {
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "vi": "6",
    "vii": "7",
    "viii": "8",
    "ix": "9",
    "xi": "11",
    "xii": "12",
    "xiii": "13",
}
_SMALL_NUMBERS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}


def _words_key(text: str, *, first: bool = True) -> str:
    words = _NON_WORD.sub(" ", text.replace("&", " and ").replace("'", "")).split()
    if first and words and words[0] in _ARTICLES and len(words) > 1:
        words = words[1:]
    out: list[str] = []
    for index, word in enumerate(words):
        # a numeral after a word ("rocky ii", "part two"); "i", "v", "x" only at the end
        if index > 0:
            if word in _ROMAN_NUMERALS:
                word = _ROMAN_NUMERALS[word]
            elif index == len(words) - 1 and word in {"i", "v", "x"}:
                word = {"i": "1", "v": "5", "x": "10"}[word]
            elif word in _SMALL_NUMBERS:
                word = _SMALL_NUMBERS[word]
        out.append(word)
    return " ".join(out)


def unflip_article(title: str) -> str:
    """'Matrix, The' -> 'The Matrix' (an alternate title in parentheses stays at the end)."""
    match = TRAILING_ARTICLE.match(title.strip())
    if not match:
        return title.strip()
    article = match["article"]
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{match['body']}{match['rest']}".strip()


def _segments(title: str) -> list[str]:
    return [part for part in _SUBTITLE.split(unflip_article(fold(title))) if part.strip()]


def title_key(title: str) -> str:
    """The form two writings of one title share: folded, the leading article moved back
    ("Matrix, The") and dropped, punctuation and apostrophes removed, "&" read as "and",
    roman numerals and number words as digits. "The Godfather: Part II" and "Godfather Part 2,
    The" both give "godfather part 2"."""
    segments = _segments(title)
    keys = [_words_key(part, first=index == 0) for index, part in enumerate(segments)]
    return " ".join(key for key in keys if key)


def main_title_key(title: str) -> str:
    """The title's key without its subtitle (what follows ":" or " - "): "Star Wars: Episode
    IV - A New Hope" -> "star wars"."""
    segments = _segments(title)
    return _words_key(segments[0]) if segments else ""


_PARENTHESES = re.compile(r"\s*\(([^)]*)\)")


def title_keys(title: str) -> frozenset[str]:
    """Every key a title answers to: its own, and without and as its alternate title in
    parentheses ("Seven (Se7en)" -> "seven se7en", "seven", "se7en")."""
    keys = {title_key(title)}
    alternates = _PARENTHESES.findall(title)
    if alternates:
        keys.add(title_key(_PARENTHESES.sub("", title)))
        keys.update(title_key(alternate) for alternate in alternates)
    keys.discard("")
    return frozenset(keys)
