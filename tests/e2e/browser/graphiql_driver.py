"""Driving GraphiQL in headless Chromium (selenium): open it, type into its editors, run an
operation and read the response pane. Monaco renders spaces as no-break spaces and shows only
the visible part of long lines, so operations typed here are kept short."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

UI_TIMEOUT = 30.0
QUERY_EDITOR = ".graphiql-query-editor"
HEADERS_EDITOR = "section.graphiql-editor-tool .graphiql-editor:not(.hidden)"
RESPONSE = ".graphiql-response"


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    try:
        return WebDriverWait(driver, UI_TIMEOUT).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}; page text: {page_text(driver)[:2000]!r}")


def page_text(driver: WebDriver) -> str:
    with contextlib.suppress(Exception):
        return str(driver.find_element(By.TAG_NAME, "body").text)
    return ""


def editor_text(driver: WebDriver, selector: str) -> str:
    """Text of a Monaco editor as displayed."""
    lines = driver.find_elements(By.CSS_SELECTOR, f"{selector} .view-lines")
    return lines[0].text.replace("\u00a0", " ") if lines else ""


def open_graphiql(driver: WebDriver, url: str, *, fresh: bool = False) -> None:
    """Open GraphiQL at ``url`` (``fresh``: forget the tabs of earlier visits)."""
    driver.get(url)
    wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, f"{QUERY_EDITOR} .monaco-editor"),
        "the GraphiQL query editor",
    )
    if fresh:
        driver.execute_script("window.localStorage.clear()")
        open_graphiql(driver, url)


def type_into(driver: WebDriver, selector: str, text: str) -> None:
    """Replace what the editor at ``selector`` holds with ``text``, typed as a person would."""
    driver.find_element(By.CSS_SELECTOR, f"{selector} .view-lines").click()
    select_all = ActionChains(driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL)
    select_all.send_keys(Keys.DELETE).perform()
    ActionChains(driver).send_keys(text).perform()
    typed = "".join(text.split())

    def holds(d: WebDriver) -> bool:
        # a line wider than the editor shows only in part
        shown = "".join(editor_text(d, selector).split())
        return shown == typed or (len(shown) >= min(40, len(typed) // 2) and shown in typed)

    wait(driver, holds, f"the editor to hold {text!r}")


def type_query(driver: WebDriver, query: str) -> None:
    type_into(driver, QUERY_EDITOR, query)


def type_headers(driver: WebDriver, headers: str) -> None:
    """Open the Headers tab and type ``headers`` (JSON) into it."""
    driver.find_element(By.CSS_SELECTOR, 'button[data-name="headers"]').click()
    wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, f"{HEADERS_EDITOR} .view-lines"),
        "the headers editor",
    )
    type_into(driver, HEADERS_EDITOR, headers)


def wait_for_operation_name(driver: WebDriver, name: str) -> None:
    """GraphiQL names the tab after the operation once it has parsed the edited query."""
    wait(
        driver,
        lambda d: any(
            tab.text.strip() == name
            for tab in d.find_elements(By.CSS_SELECTOR, ".graphiql-tab-active")
        ),
        f"the active tab to be named {name!r}",
    )


def run(driver: WebDriver) -> None:
    driver.find_element(By.CSS_SELECTOR, ".graphiql-execute-button").click()


def response(driver: WebDriver) -> dict[str, Any] | None:
    """The response pane's JSON object, or None while it holds none."""
    try:
        value = json.loads(editor_text(driver, RESPONSE))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def run_and_read_result(driver: WebDriver) -> dict[str, Any]:
    run(driver)
    return wait(driver, response, "a JSON result in the response pane")  # type: ignore[no-any-return]
