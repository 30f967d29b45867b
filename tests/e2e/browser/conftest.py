"""Fixtures of the browser tests: one headless Chromium per test module (see chromium.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chromium import chromium_driver  # isort: skip


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium_driver() as chromium:
        yield chromium
