"""Headless Chromium for the browser tests: Debian's `chromium` driven through its
`chromedriver` with selenium (the CI installs both). One place for where they are, how a
browser is started, and why a test module is skipped without them."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"headless Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)"
    if not CHROMEDRIVER.exists():
        return f"chromedriver not found at {CHROMEDRIVER} (Debian: apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (scripts/setup.sh --dev)"
    return None


def skip_module_without_chromium(*other_reasons: str | None) -> None:
    """Skip the calling test module, with the reason, when Chromium or anything else it needs
    (``other_reasons``: None when present) is missing."""
    reason = skip_reason() or next((r for r in other_reasons if r), None)
    if reason:
        pytest.skip(reason, allow_module_level=True)


@contextlib.contextmanager
def chromium_driver() -> Iterator[Any]:
    """A headless Chromium with a profile of its own, quit on the way out."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="media-gateway-browser-") as profile:
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


# --- reading server-rendered pages ------------------------------------------------------------

UI_TIMEOUT = 30.0


def wait(driver: Any, condition: Any, what: str, timeout: float = UI_TIMEOUT) -> Any:
    """Wait for ``condition(driver)``; a page replaced while it was read (a redirect, a
    form's answer) is read again."""
    from selenium.common.exceptions import (
        StaleElementReferenceException,
        TimeoutException,
        WebDriverException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    def settled(d: Any) -> Any:
        try:
            return condition(d)
        except StaleElementReferenceException:
            return False
        except WebDriverException as exc:  # "Node ... does not belong to the document"
            if "does not belong to the document" in str(exc):
                return False
            raise

    try:
        return WebDriverWait(driver, timeout).until(settled)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}; page: {page_text(driver)[:3000]!r}")


def page_text(driver: Any) -> str:
    with contextlib.suppress(Exception):
        return str(driver.find_element("tag name", "body").text)
    return ""


def heading(driver: Any, words: str) -> None:
    """Wait for a page whose ``h1`` says ``words``."""
    wait(
        driver,
        lambda d: any(words in h.text for h in d.find_elements("tag name", "h1")),
        f"a page headed {words!r}",
    )


def fill(driver: Any, field_id: str, value: str) -> None:
    element = driver.find_element("id", field_id)
    element.clear()
    element.send_keys(value)
