"""The operations console in a real browser (headless Chromium), on the platform as
``media-gateway serve`` runs it, with the first admin bootstrapped as an operator does
(``media-gateway admin create``'s function):

- the admin signs in on ``/admin``, finds a member by email, sees their sessions and ends
  them: the member's access token is refused by the gateway at once; locks and unlocks;
- edits a title's availability: adds an offer (a bad region is shown on the page, field by
  field), changes it and removes another, each visible through the gateway afterwards;
- reads the audit log filtered to those actions, by the admin; sees the search analytics of
  searches made through the gateway, and service health (subgraphs, breakers, outbox lag);
- signs out; a member who signs in is refused with a page that says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from console_site import (  # isort: skip
    PASSWORD,
    bootstrap_admin,
    create_title,
    email,
    offers,
)
from chromium import (  # isort: skip
    fill,
    heading,
    skip_module_without_chromium,
    wait,
)
from pages_site import ServedPlatform  # isort: skip

pytestmark = pytest.mark.browser

ME = "{ me { id } }"

skip_module_without_chromium()

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPlatform]:
    served = ServedPlatform(tmp_path_factory.mktemp("console"))
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def browser(driver: WebDriver, site: ServedPlatform) -> WebDriver:
    """The browser with no cookies of the console's (nobody signed in)."""
    driver.get(f"{site.url}/admin/sign-in")
    driver.delete_all_cookies()
    return driver


def _click(driver: WebDriver, element_id: str) -> None:
    driver.find_element(By.ID, element_id).click()


def _link(driver: WebDriver, words: str) -> None:
    driver.find_element(By.LINK_TEXT, words).click()


def _sign_in(driver: WebDriver, site: ServedPlatform, address: str) -> None:
    driver.get(f"{site.url}/admin")
    heading(driver, "Sign in to the console")
    fill(driver, "email", address)
    fill(driver, "password", PASSWORD)
    _click(driver, "sign-in")


def _notice(driver: WebDriver, words: str) -> None:
    """Wait for the page's notice to say ``words`` (the page after a form's post)."""
    wait(
        driver,
        lambda d: any(words in e.text for e in d.find_elements(By.ID, "notice")),
        f"a notice saying {words!r}",
    )


def _alert(driver: WebDriver) -> str:
    return str(wait(driver, lambda d: d.find_element(By.ID, "error"), "an error").text)


def _eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_an_admin_runs_the_daily_tasks_in_the_console(
    site: ServedPlatform, browser: WebDriver
) -> None:
    admin = bootstrap_admin(site)
    admin_token = site.sign_in(admin, PASSWORD)
    member = email("viewer")
    member_token = site.register(member, PASSWORD)
    member_id = site.graphql(ME, token=member_token)["data"]["me"]["id"]
    device = site.graphql(
        'mutation { registerDevice(name: "Living room TV", kind: TV) { id } }', token=member_token
    )
    assert "errors" not in device, device
    name = f"Console Harbour {member_id[:6]}"
    title_id = create_title(site, admin_token, name)
    for query in ("harbour lights", "harbour lights", "zzqx nothing"):
        searched = site.graphql(
            "query($q: String!) { search(query: $q) { totalCount } }", {"q": query}, member_token
        )
        assert "errors" not in searched, searched

    # sign in: the console's home lists what an admin may do
    _sign_in(browser, site, admin)
    heading(browser, "Operations console")
    assert admin in browser.find_element(By.ID, "signed-in-as").text
    sections = browser.find_element(By.ID, "sections").text
    for words in ("Accounts", "Titles", "Audit log", "Search analytics", "Service health"):
        assert words in sections

    # find the member and end their sessions
    _link(browser, "Accounts")
    heading(browser, "Accounts")
    fill(browser, "q", member.split("@")[0].upper())  # any case
    _click(browser, "find-accounts")
    wait(browser, lambda d: d.find_elements(By.LINK_TEXT, member), "the member in the results")
    _link(browser, member)
    heading(browser, member)
    sessions = browser.find_element(By.ID, "sessions").text
    assert "Living room TV" in browser.find_element(By.ID, "devices").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 1, sessions
    _click(browser, "revoke-all")
    _notice(browser, "1 session ended")
    assert browser.find_elements(By.ID, "no-sessions")
    refused = site.graphql(ME, token=member_token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # lock and unlock
    fill(browser, "reason", "chargeback under review")
    _click(browser, "lock")
    _notice(browser, "is locked")
    assert "locked since" in browser.find_element(By.ID, "account-state").text
    locked = site.graphql(
        "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) "
        "{ accessToken } }",
        {"e": member, "p": PASSWORD},
    )
    assert locked["errors"][0]["extensions"]["code"] == "ACCOUNT_LOCKED"
    _click(browser, "unlock")
    _notice(browser, "is unlocked")
    site.sign_in(member, PASSWORD)  # can sign in again

    # a title's availability: find it, add an offer (first with a mistake), change, remove
    _link(browser, "Titles")
    heading(browser, "Titles")

    def found_title() -> bool:
        fill(browser, "q", "Console Harb")
        _click(browser, "find-titles")
        heading(browser, "Titles")
        return bool(browser.find_elements(By.PARTIAL_LINK_TEXT, name))

    _eventually(found_title, "the new title to be found")
    browser.find_element(By.PARTIAL_LINK_TEXT, name).click()
    heading(browser, name)
    assert browser.find_elements(By.ID, "no-offers")

    def new_offer(platform: str, region: str, offer_type: str, link: str, price: str = "") -> None:
        fill(browser, "new-offer-platform", platform)
        fill(browser, "new-offer-region", region)
        Select(browser.find_element(By.ID, "new-offer-offer-type")).select_by_value(offer_type)
        fill(browser, "new-offer-deep-link", link)
        fill(browser, "new-offer-price", price)
        fill(browser, "new-offer-currency", "USD" if price else "")
        _click(browser, "add-offer")

    new_offer("netflix", "ZZ", "SUBSCRIPTION", "https://www.netflix.example/title/1")
    error = _alert(browser)
    assert "region" in browser.find_element(By.ID, "field-errors").text, error
    # what was typed stays in the form, to be corrected
    assert browser.find_element(By.ID, "new-offer-region").get_attribute("value") == "ZZ"
    assert offers(site, title_id) == []
    fill(browser, "new-offer-region", "US")
    _click(browser, "add-offer")
    _notice(browser, "offer was added")
    new_offer("appletv", "GB", "RENT", "https://tv.example/title/1", price="3.99")
    wait(browser, lambda d: d.find_elements(By.ID, "offer-row-1"), "the second offer")
    assert {(o["platform"], o["region"]) for o in offers(site, title_id)} == {
        ("netflix", "US"),
        ("appletv", "GB"),
    }
    index = next(i for i, o in enumerate(offers(site, title_id)) if o["platform"] == "appletv")
    fill(browser, f"offer-{index}-price", "4.49")
    _click(browser, f"offer-{index}-save")
    _notice(browser, "offer was changed")
    rent = next(o for o in offers(site, title_id) if o["platform"] == "appletv")
    assert rent["price"] == pytest.approx(4.49) and rent["offerType"] == "RENT"
    index = next(i for i, o in enumerate(offers(site, title_id)) if o["platform"] == "netflix")
    _click(browser, f"offer-{index}-remove")
    _notice(browser, "offer was removed")
    assert [(o["platform"], o["region"]) for o in offers(site, title_id)] == [("appletv", "GB")]

    # the audit log shows those actions, by this admin
    admin_id = site.graphql(ME, token=admin_token)["data"]["me"]["id"]
    _link(browser, "Audit log")
    heading(browser, "Audit log")
    fill(browser, "actor", admin_id)
    _click(browser, "filter-audit")
    wait(browser, lambda d: d.find_elements(By.ID, "audit"), "the audit entries")
    actions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#audit .audit-action")]
    for action in ("account.sessions.revoke", "account.lock", "account.unlock"):
        assert action in actions, actions
    assert actions.count("catalog.title.availability") == 4, actions  # add, add, change, remove
    fill(browser, "actor", "")
    fill(browser, "target", member_id)
    fill(browser, "action", "account.lock")
    _click(browser, "filter-audit")
    wait(browser, lambda d: d.find_elements(By.ID, "audit"), "the filtered entries")
    row = browser.find_element(By.CSS_SELECTOR, "#audit .audit-entry").text
    assert "account.lock" in row and admin_id in row and "chargeback under review" in row

    # search analytics of the searches made through the gateway
    _link(browser, "Search analytics")
    heading(browser, "Search analytics")
    assert int(browser.find_element(By.ID, "searches").text) >= 3
    assert "harbour lights" in browser.find_element(By.ID, "top-queries").text
    assert "zzqx nothing" in browser.find_element(By.ID, "zero-result-queries").text

    # service health: every subgraph with its breaker, and the outboxes
    _link(browser, "Service health")
    heading(browser, "Service health")
    assert "ready" in browser.find_element(By.ID, "gateway-state").text
    subgraphs = browser.find_element(By.ID, "subgraphs").text
    for subgraph in ("catalog", "identity", "playback", "recommendations", "sync"):
        assert subgraph in subgraphs
    outboxes = browser.find_element(By.ID, "outboxes").text
    for outbox in ("audit", "catalog", "playback"):
        assert outbox in outboxes

    # sign out: the console asks for a sign-in again
    _click(browser, "sign-out")
    heading(browser, "Signed out")
    browser.get(f"{site.url}/admin/accounts")
    heading(browser, "Sign in to the console")


def test_a_member_is_refused(site: ServedPlatform, browser: WebDriver) -> None:
    member = email("viewer")
    site.register(member, PASSWORD)
    _sign_in(browser, site, member)
    heading(browser, "Something went wrong")
    assert "may not use the console" in _alert(browser)
    browser.get(f"{site.url}/admin/audit")
    heading(browser, "Sign in to the console")


def test_the_forms_work_from_the_keyboard(site: ServedPlatform, browser: WebDriver) -> None:
    from selenium.webdriver.common.keys import Keys

    admin = bootstrap_admin(site)
    browser.get(f"{site.url}/admin")
    heading(browser, "Sign in to the console")
    # every field has a label, and Enter sends the form
    for field in ("email", "password", "code"):
        assert browser.find_elements(By.CSS_SELECTOR, f"label[for={field}]")
    browser.find_element(By.ID, "email").send_keys(admin, Keys.TAB)
    active = browser.switch_to.active_element
    assert active.get_attribute("id") == "password"
    active.send_keys(PASSWORD, Keys.ENTER)
    heading(browser, "Operations console")
