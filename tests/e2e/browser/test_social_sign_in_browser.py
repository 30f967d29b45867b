"""Social sign-in in a real browser (headless Chromium) against a real OpenID provider (the
``oidc-provider`` package on loopback; see ``social_oidc_provider``).

A viewer picks "Sign in with Test provider" on ``/login``, signs in on the provider's page
and comes back signed in: a new account on the first time; for an email that already has an
account, only after confirming with that account's password on the link page; a viewer who
cancels at the provider reads why on a page.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from chromium import skip_module_without_chromium  # isort: skip
from social_oidc_provider import (  # isort: skip
    PASSWORD,
    SocialSite,
    provider_skip_reason,
)

pytestmark = pytest.mark.browser

UI_TIMEOUT = 30.0


skip_module_without_chromium(provider_skip_reason())

from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ME = "{ me { id email emailVerified } }"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SocialSite]:
    made = SocialSite(Path(tmp_path_factory.mktemp("social-browser")))
    made.start()
    try:
        yield made
    finally:
        made.stop()


def _wait(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    try:
        return WebDriverWait(driver, UI_TIMEOUT).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}; at {driver.current_url}: {_text(driver)!r}")


def _text(driver: WebDriver) -> str:
    with contextlib.suppress(Exception):
        return str(driver.find_element(By.TAG_NAME, "body").text)
    return ""


def _fresh(driver: WebDriver, site: SocialSite) -> None:
    """A browser that is signed in nowhere (cookies are per host, the ports share them)."""
    driver.get(f"{site.url}/login")
    driver.delete_all_cookies()


def _choose_provider(driver: WebDriver, site: SocialSite, label: str) -> None:
    driver.get(f"{site.url}/login")
    button = _wait(
        driver,
        lambda d: d.find_elements(By.LINK_TEXT, f"Sign in with {label}"),
        f"the 'Sign in with {label}' button on /login",
    )[0]
    button.click()


def _sign_in_at_provider(driver: WebDriver, email: str, password: str = PASSWORD) -> None:
    _wait(driver, lambda d: d.find_elements(By.ID, "provider-sign-in"), "the provider's page")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "provider-sign-in").click()


def _signed_in_token(driver: WebDriver, site: SocialSite) -> str:
    _wait(
        driver,
        lambda d: d.current_url.startswith(f"{site.url}/login/done"),
        "the signed-in page",
    )
    assert "You are signed in." in _text(driver)
    cookie = driver.get_cookie("mg_page_session")
    assert cookie is not None and cookie["httpOnly"]
    return str(cookie["value"])


def test_a_new_viewer_signs_in_with_the_provider_and_gets_an_account(
    site: SocialSite, driver: WebDriver
) -> None:
    account = site.provider_accounts["sub-new"]
    _fresh(driver, site)
    _choose_provider(driver, site, "Test provider")
    _sign_in_at_provider(driver, account.email)
    token = _signed_in_token(driver, site)
    me = site.graphql(ME, token=token)
    assert me["data"]["me"]["email"] == account.email
    assert me["data"]["me"]["emailVerified"] is True

    # signing in again finds the same account
    _fresh(driver, site)
    _choose_provider(driver, site, "Test provider")
    _sign_in_at_provider(driver, account.email)
    again = site.graphql(ME, token=_signed_in_token(driver, site))
    assert again["data"]["me"]["id"] == me["data"]["me"]["id"]


def test_an_existing_account_is_linked_only_once_its_owner_confirms(
    site: SocialSite, driver: WebDriver
) -> None:
    account = site.provider_accounts["sub-existing"]
    site.register(account.email)

    # the first time, the viewer is asked, and cancelling links nothing
    _fresh(driver, site)
    _choose_provider(driver, site, "Test provider")
    _sign_in_at_provider(driver, account.email)
    _wait(driver, lambda d: d.current_url == f"{site.url}/login/link", "the link page")
    assert "Link Test provider to your account" in _text(driver)
    assert account.email in _text(driver)
    assert driver.get_cookie("mg_page_session") is None
    driver.find_element(By.ID, "cancel").click()
    _wait(driver, lambda d: d.current_url.startswith(f"{site.url}/login"), "/login")
    assert driver.get_cookie("mg_page_session") is None

    # asked again (nothing was linked); a wrong password is refused on the page
    _fresh(driver, site)
    _choose_provider(driver, site, "Test provider")
    _sign_in_at_provider(driver, account.email)
    _wait(driver, lambda d: d.current_url == f"{site.url}/login/link", "the link page")
    driver.find_element(By.ID, "password").send_keys("not the password at all")
    driver.find_element(By.ID, "confirm").click()
    alert = _wait(driver, lambda d: d.find_elements(By.ID, "error"), "the refusal")[0]
    assert "Incorrect email or password." in alert.text
    assert driver.get_cookie("mg_page_session") is None

    # the account's password links it and signs in
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "confirm").click()
    me = site.graphql(ME, token=_signed_in_token(driver, site))
    assert me["data"]["me"]["email"] == account.email

    # from now on the provider signs in to that account directly
    _fresh(driver, site)
    _choose_provider(driver, site, "Test provider")
    _sign_in_at_provider(driver, account.email)
    again = site.graphql(ME, token=_signed_in_token(driver, site))
    assert again["data"]["me"]["id"] == me["data"]["me"]["id"]


def test_cancelling_at_the_provider_is_explained_on_a_page(
    site: SocialSite, driver: WebDriver
) -> None:
    _fresh(driver, site)
    _choose_provider(driver, site, "Test provider")
    _wait(driver, lambda d: d.find_elements(By.ID, "provider-cancel"), "the provider's page")
    driver.find_element(By.ID, "provider-cancel").click()
    _wait(
        driver,
        lambda d: "/login/local/callback" in d.current_url and d.find_elements(By.ID, "error"),
        "the refusal page",
    )
    assert "Signing in with Test provider was cancelled." in _text(driver)
    link = driver.find_element(By.LINK_TEXT, "Back to sign in")
    assert link.get_attribute("href") == f"{site.url}/login"
    assert driver.get_cookie("mg_page_session") is None
