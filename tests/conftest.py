"""Suite-wide rules.

Tests that need a real service (PostgreSQL, Redis, Kafka) read its URL from the environment
and are skipped without it, so the suite passes on a machine with no services. CI sets
``CI_REQUIRE_SERVICES=1`` and provides every service: there, such a skip is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

_SERVICE_VARIABLES = ("TEST_POSTGRES_URL", "TEST_REDIS_URL", "TEST_KAFKA_BOOTSTRAP_SERVERS")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI_REQUIRE_SERVICES") or not report.skipped:
        return
    reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
    if any(v in reason for v in _SERVICE_VARIABLES):
        report.outcome = "failed"
        report.longrepr = f"a required service is missing in CI: {reason}"
