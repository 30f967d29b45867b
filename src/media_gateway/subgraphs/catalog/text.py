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
