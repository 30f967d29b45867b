"""The identity service's pages in a real browser (headless Chromium), on the platform as
``media-gateway serve`` runs it:

- a viewer approves a TV on ``/activate`` (the TV's ``verification_uri_complete``), signing
  in on the way, while the TV polls the token endpoint; the TV then holds tokens;
- the email confirmation and password reset links of the console mail work;
- a third-party app completes the authorization code flow with PKCE through ``/login`` and
  the consent page, and calls the API with its token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from chromium import (  # isort: skip
    fill,
    heading,
    page_text,
    skip_module_without_chromium,
    wait,
)
from pages_site import ServedPlatform, ThirdPartyApp  # isort: skip

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


skip_module_without_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPlatform]:
    served = ServedPlatform(tmp_path_factory.mktemp("pages"))
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def browser(driver: WebDriver, site: ServedPlatform) -> WebDriver:
    """The browser with no cookies of the site's (a viewer who has not signed in yet)."""
    driver.get(f"{site.url}/login")
    driver.delete_all_cookies()
    return driver


def _sign_in_on_the_page(driver: WebDriver, email: str, password: str) -> None:
    heading(driver, "Sign in")
    fill(driver, "email", email)
    fill(driver, "password", password)
    driver.find_element(By.ID, "sign-in").click()


def _email() -> str:
    return f"viewer-{uuid.uuid4().hex[:10]}@example.com"


class PollingTv:
    """The TV: polls the token endpoint at the interval it was given until it gets an
    answer other than ``authorization_pending`` / ``slow_down``."""

    def __init__(self, site: ServedPlatform, device_code: str, interval: int) -> None:
        self.site = site
        self.device_code = device_code
        self.interval = interval
        self.polls = 0
        self.answer: dict[str, Any] | None = None
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        deadline = time.monotonic() + 240
        with httpx.Client(base_url=self.site.url, timeout=30) as http:
            while time.monotonic() < deadline:
                self.polls += 1
                body = http.post(
                    "/oauth/token",
                    data={
                        "grant_type": DEVICE_CODE_GRANT,
                        "device_code": self.device_code,
                        "client_id": "media-gateway-tv",
                    },
                ).json()
                if body.get("error") == "slow_down":
                    self.interval = int(body.get("interval", self.interval + 5))
                elif body.get("error") != "authorization_pending":
                    self.answer = body
                    return
                time.sleep(self.interval)

    def result(self) -> dict[str, Any]:
        self.thread.join(timeout=260)
        assert self.answer is not None, "the TV never got an answer"
        return self.answer


def test_a_viewer_approves_a_tv_on_activate_while_it_polls(
    site: ServedPlatform, browser: WebDriver
) -> None:
    email = _email()
    site.register(email, PASSWORD)
    started = site.http.post("/oauth/device_authorization", data={"client_id": "media-gateway-tv"})
    assert started.status_code == 200, started.text
    grant = started.json()
    assert grant["verification_uri"] == f"{site.url}/activate"
    tv = PollingTv(site, grant["device_code"], int(grant["interval"]))

    # the viewer scans the QR code (verification_uri_complete) on a phone
    browser.get(grant["verification_uri_complete"])
    _sign_in_on_the_page(browser, email, PASSWORD)
    heading(browser, "Sign in on your TV")
    assert browser.find_element(By.ID, "client-name").text == "Media Gateway for TV"
    assert browser.find_element(By.ID, "user-code").text == grant["user_code"]
    scopes = browser.find_element(By.ID, "scopes").text
    assert "Browse and search the catalog." in scopes
    browser.find_element(By.ID, "approve").click()
    heading(browser, "Device signed in")
    assert "Media Gateway for TV is now signed in" in page_text(browser)

    tokens = tv.result()
    assert tv.polls >= 1
    assert "access_token" in tokens, tokens
    me = site.graphql("{ me { email } }", token=tokens["access_token"])
    assert me["data"]["me"]["email"] == email


def test_a_viewer_who_denies_the_tv_sees_it_and_the_tv_is_refused(
    site: ServedPlatform, browser: WebDriver
) -> None:
    email = _email()
    site.register(email, PASSWORD)
    grant = site.http.post(
        "/oauth/device_authorization", data={"client_id": "media-gateway-tv"}
    ).json()
    # the viewer types the code shown on the TV, on the page without it
    browser.get(grant["verification_uri"])
    _sign_in_on_the_page(browser, email, PASSWORD)
    heading(browser, "Sign in on your TV")
    fill(browser, "user_code", grant["user_code"].replace("-", "").lower())
    browser.find_element(By.ID, "continue").click()
    wait(browser, lambda d: d.find_elements(By.ID, "deny"), "the confirmation")
    browser.find_element(By.ID, "deny").click()
    heading(browser, "Sign-in denied")
    refused = site.http.post(
        "/oauth/token",
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": grant["device_code"],
            "client_id": "media-gateway-tv",
        },
    )
    assert refused.json()["error"] == "access_denied"


def test_the_email_links_of_the_console_mail_work(site: ServedPlatform, browser: WebDriver) -> None:
    email = _email()
    token = site.register(email, PASSWORD)
    assert site.graphql("{ me { emailVerified } }", token=token)["data"]["me"] == {
        "emailVerified": False
    }

    browser.get(site.mailbox.link(email, "/verify-email"))
    heading(browser, "Confirm your email address")
    browser.find_element(By.ID, "confirm").click()
    heading(browser, "Email address confirmed")
    assert site.graphql("{ me { emailVerified } }", token=token)["data"]["me"] == {
        "emailVerified": True
    }

    # forgot the password: ask for the link on the page, open it from the mail
    browser.get(f"{site.url}/reset-password")
    fill(browser, "email", email)
    browser.find_element(By.ID, "send").click()
    heading(browser, "Check your email")
    browser.get(site.mailbox.link(email, "/reset-password"))
    heading(browser, "Choose a new password")
    fill(browser, "new_password", "password")
    fill(browser, "repeat_password", "password")
    browser.find_element(By.ID, "change").click()
    wait(browser, lambda d: d.find_elements(By.ID, "error"), "the password policy's refusal")
    assert "password" in browser.find_element(By.ID, "error").text.lower()
    new_password = "violet lanterns drift over quiet harbours"
    fill(browser, "new_password", new_password)
    fill(browser, "repeat_password", new_password)
    browser.find_element(By.ID, "change").click()
    heading(browser, "Password changed")
    # the old session ended; the new password signs in on the page
    assert "errors" in site.graphql("{ me { email } }", token=token)
    browser.find_element(By.LINK_TEXT, "Sign in with the new password").click()
    _sign_in_on_the_page(browser, email, new_password)
    heading(browser, "Signed in")


def test_a_third_party_app_gets_a_code_through_login_and_consent(
    site: ServedPlatform, browser: WebDriver
) -> None:
    email = _email()
    token = site.register(email, PASSWORD)
    app = ThirdPartyApp()
    try:
        registered = site.graphql(
            'mutation($r: [String!]!) { registerOauthClient(name: "Example App", '
            "redirectUris: $r, kind: PUBLIC) { clientId kind } }",
            {"r": [app.redirect_uri]},
            token=token,
        )
        assert "errors" not in registered, registered
        client_id = registered["data"]["registerOauthClient"]["clientId"]
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .decode()
            .rstrip("=")
        )
        state = secrets.token_urlsafe(12)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": app.redirect_uri,
                "scope": "catalog:read identity:read",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        browser.get(f"{site.url}/oauth/authorize?{query}")
        _sign_in_on_the_page(browser, email, PASSWORD)
        heading(browser, "Allow Example App?")
        scopes = browser.find_element(By.ID, "scopes").text
        assert "See your account and its viewing profiles." in scopes
        assert "Browse and search the catalog." in scopes
        assert "watchlist" not in scopes  # only what was asked for
        browser.find_element(By.ID, "allow").click()
        wait(browser, lambda d: d.find_elements(By.ID, "app"), "the app's page")
        assert app.received, "the app was not sent back to"
        back = app.received[-1]
        assert back["state"] == [state]
        exchanged = site.http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": back["code"][0],
                "client_id": client_id,
                "redirect_uri": app.redirect_uri,
                "code_verifier": verifier,
            },
        )
        assert exchanged.status_code == 200, exchanged.text
        tokens = exchanged.json()
        assert set(tokens["scope"].split()) == {"catalog:read", "identity:read"}
        me = site.graphql("{ me { email } }", token=tokens["access_token"])
        assert me["data"]["me"]["email"] == email
    finally:
        app.stop()
