"""The operations console at the HTTP level, on the platform as ``media-gateway serve`` runs
it: every form refuses a post without its CSRF token, with a forged one or from another
site (and nothing happens); signing out ends the operator's session at the gateway and
forgets it in the browser; the session cookies are HttpOnly and SameSite=Strict; refusals
are pages, never JSON or a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from console_site import (  # isort: skip
    PASSWORD,
    ConsoleBrowser,
    bootstrap_admin,
    create_title,
    csrf_of,
    email,
    offers,
)
from pages_site import ServedPlatform  # isort: skip

ME = "{ me { id } }"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPlatform]:
    served = ServedPlatform(tmp_path_factory.mktemp("console-http"))
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def admin(site: ServedPlatform) -> str:
    return bootstrap_admin(site)


@pytest.fixture
def browser(site: ServedPlatform) -> Iterator[ConsoleBrowser]:
    made = ConsoleBrowser(site)
    try:
        yield made
    finally:
        made.close()


def _page(response: object) -> str:
    import httpx

    assert isinstance(response, httpx.Response)
    assert response.headers["content-type"].startswith("text/html"), response.text[:500]
    assert "Traceback" not in response.text
    return response.text


def _sessions(site: ServedPlatform, admin_token: str, user_id: str) -> int:
    answer = site.graphql(
        "query($id: ID!) { adminAccount(id: $id) { sessions { id } } }", {"id": user_id},
        admin_token,
    )  # fmt: skip
    assert "errors" not in answer, answer
    return len(answer["data"]["adminAccount"]["sessions"])


def test_the_console_asks_for_a_sign_in_first(
    site: ServedPlatform, browser: ConsoleBrowser
) -> None:
    for path in ("/admin", "/admin/accounts?q=example", "/admin/audit", "/admin/health"):
        response = browser.get(path)
        assert response.status_code == 401, path
        page = _page(response)
        assert "Sign in to the console" in page
        assert 'name="password"' in page


def test_signing_in_sets_strict_http_only_cookies(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    response = browser.sign_in(admin)
    assert response.status_code == 303, _page(response)
    assert response.headers["location"] == "/admin"
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    session_cookies = [c for c in cookies if c.startswith("mg_console_access=")]
    assert session_cookies, cookies
    for cookie in session_cookies:
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered and "path=/admin" in lowered
    home = browser.get("/admin")
    assert home.status_code == 200
    assert "Accounts" in _page(home) and "accounts:admin" in home.text


def test_a_wrong_password_is_shown_on_the_sign_in_page(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    response = browser.sign_in(admin, "not the password at all")
    assert response.status_code == 400
    page = _page(response)
    assert 'role="alert"' in page and "Sign in to the console" in page
    assert "mg_console_access" not in response.headers.get("set-cookie", "")


def test_forms_refuse_a_missing_or_forged_csrf_token_and_another_site(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    member = email("viewer")
    member_token = site.register(member, PASSWORD)
    member_id = site.graphql(ME, token=member_token)["data"]["me"]["id"]
    admin_token = site.sign_in(admin, PASSWORD)
    assert browser.sign_in(admin).status_code == 303
    revoke = f"/admin/accounts/{member_id}/revoke"
    real = csrf_of(browser.get(f"/admin/accounts/{member_id}"))

    missing = browser.http.post(revoke, data={"session_id": ""}, headers={"origin": site.url})
    forged = browser.http.post(revoke, data={"csrf_token": "x" * 43}, headers={"origin": site.url})
    elsewhere = browser.http.post(
        revoke, data={"csrf_token": real}, headers={"origin": "https://elsewhere.example"}
    )
    for response in (missing, forged, elsewhere):
        assert response.status_code == 403
        assert 'role="alert"' in _page(response)
    assert "another site" in elsewhere.text
    assert "expired or was not sent from its page" in forged.text
    # nothing happened: the member's session is still there and its token still works
    assert _sessions(site, admin_token, member_id) == 1
    assert "errors" not in site.graphql(ME, token=member_token)

    # a sign-in without its token is refused too (no session is started)
    fresh = ConsoleBrowser(site)
    try:
        response = fresh.http.post(
            "/admin/sign-in", data={"email": admin, "password": PASSWORD},
            headers={"origin": site.url},
        )  # fmt: skip
        assert response.status_code == 403
        assert "mg_console_access" not in response.headers.get("set-cookie", "")
    finally:
        fresh.close()

    # with its token the same post works
    response = browser.http.post(revoke, data={"csrf_token": real}, headers={"origin": site.url})
    assert response.status_code == 303, _page(response)
    assert _sessions(site, admin_token, member_id) == 0
    refused = site.graphql(ME, token=member_token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_signing_out_ends_the_session_at_the_gateway(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    assert browser.sign_in(admin).status_code == 303
    token = browser.http.cookies.get("mg_console_access", path="/admin")
    assert token and "errors" not in site.graphql(ME, token=token)
    # sign-out is a form too: without its token nothing ends
    assert browser.http.post("/admin/sign-out", data={"csrf_token": ""}).status_code == 403
    assert "errors" not in site.graphql(ME, token=token)

    response = browser.post("/admin/sign-out", {}, csrf_from="/admin")
    assert response.status_code == 200
    assert "You are signed out" in _page(response)
    assert browser.http.cookies.get("mg_console_access", path="/admin") is None
    # the session is over everywhere: its access token is refused by the gateway
    refused = site.graphql(ME, token=token)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # and the console asks for a sign-in again
    assert browser.get("/admin").status_code == 401


def test_a_member_is_not_allowed_and_keeps_no_console_session(
    site: ServedPlatform, browser: ConsoleBrowser
) -> None:
    member = email("viewer")
    site.register(member, PASSWORD)
    response = browser.sign_in(member)
    assert response.status_code == 403
    assert "may not use the console" in _page(response)
    assert "mg_console_access" not in response.headers.get("set-cookie", "")


def test_bad_input_is_shown_on_the_page(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    assert browser.sign_in(admin).status_code == 303
    response = browser.get("/admin/audit?since=yesterday")
    assert response.status_code == 400
    assert "is not a date" in _page(response)
    response = browser.get("/admin/search?days=forever")
    assert response.status_code == 400
    assert "number of days" in _page(response)
    response = browser.get("/admin/accounts/no-such-account")
    assert response.status_code in (400, 404)
    assert 'role="alert"' in _page(response)
    response = browser.get("/admin/titles/no-such-title")
    assert response.status_code in (400, 404)
    assert 'role="alert"' in _page(response)


def test_an_expired_access_token_is_replaced_through_the_refresh_token(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    assert browser.sign_in(admin).status_code == 303
    token = browser.http.cookies.get("mg_console_access", path="/admin")
    assert token
    # an access token the gateway refuses (as it refuses one that expired)
    head, body, signature = token.split(".")
    spoiled = f"{head}.{body}.{signature[:-6]}{'A' * 6 if signature[-6:] != 'A' * 6 else 'B' * 6}"
    assert "errors" in site.graphql(ME, token=spoiled)
    browser.http.cookies.set("mg_console_access", spoiled, domain="127.0.0.1", path="/admin")
    response = browser.get("/admin/accounts?q=example.com")
    assert response.status_code == 200, _page(response)
    assert admin in response.text
    renewed = response.cookies.get("mg_console_access")
    assert renewed and renewed not in (token, spoiled)
    assert "errors" not in site.graphql(ME, token=renewed)


def test_the_console_alone_in_front_of_a_gateway(site: ServedPlatform, admin: str) -> None:
    """``media-gateway console`` (the distributed mode): the same pages, calling the
    gateway over HTTP; a service whose metrics cannot be read is named on the health page."""
    import asyncio

    import httpx

    from media_gateway.app.console import console_app

    app = console_app(site.url, site.settings, {"catalog": "http://127.0.0.1:9/metrics"})
    local = "http://console.test"

    async def visit() -> tuple[int, str, int, str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=local) as client:
            page = await client.get("/admin/sign-in")
            signed_in = await client.post(
                "/admin/sign-in",
                data={"csrf_token": csrf_of(page), "email": admin, "password": PASSWORD},
                headers={"origin": local},
            )
            accounts = await client.get("/admin/accounts?q=example.com")
            health = await client.get("/admin/health")
            return signed_in.status_code, accounts.text, health.status_code, health.text

    status, accounts, health_status, health = asyncio.run(visit())
    assert status == 303
    assert admin in accounts
    assert health_status == 200
    for subgraph in ("catalog", "identity", "playback", "recommendations", "sync"):
        assert f"<td>{subgraph}</td>" in health
    assert 'id="metrics-unreadable"' in health and "catalog" in health


def test_a_catalog_editor_sees_only_its_pages_and_the_gateway_refuses_the_rest(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    editor = email("editor")
    editor_token = site.register(editor, PASSWORD)
    editor_id = site.graphql(ME, token=editor_token)["data"]["me"]["id"]
    promoted = site.graphql(
        "mutation($id: ID!) { adminSetAccountRole(userId: $id, role: CATALOG_EDITOR) { role } }",
        {"id": editor_id},
        site.sign_in(admin, PASSWORD),
    )
    assert "errors" not in promoted, promoted
    assert browser.sign_in(editor).status_code == 303
    home = _page(browser.get("/admin"))
    assert 'href="/admin/titles"' in home and 'href="/admin/search"' in home
    assert 'href="/admin/accounts"' not in home and 'href="/admin/audit"' not in home
    # reached anyway, the pages show the gateway's refusal
    for path in ("/admin/accounts?q=example.com", "/admin/audit"):
        response = browser.get(path)
        assert response.status_code == 403, path
        assert 'role="alert"' in _page(response)
        assert admin not in response.text
    assert browser.get("/admin/search").status_code == 200


def test_the_audit_log_pages_with_its_filters(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    import html
    import re

    for _ in range(6):
        site.sign_in(admin, PASSWORD)
    assert browser.sign_in(admin).status_code == 303
    seen: list[str] = []
    response = browser.get("/admin/audit?action=auth.sign_in&size=2")
    for _ in range(3):
        page = _page(response)
        assert response.status_code == 200
        ids = re.findall(r'<tr class="audit-entry"><td>([^<]+)</td>', page)
        assert len(ids) == 2 and "auth.sign_in_failed" not in page
        seen.extend(ids)
        older = re.search(r'href="(/admin/audit\?[^"]+)" id="older"', page)
        assert older, page[-2000:]
        assert "action=auth.sign_in" in older.group(1) and "size=2" in older.group(1)
        response = browser.get(html.unescape(older.group(1)))
    # newest first, one page after another
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)
    response = browser.get("/admin/audit?size=500")
    assert response.status_code == 400 and "1 to 200" in _page(response)


def test_an_operator_with_two_step_sign_in_gives_the_code(
    site: ServedPlatform, browser: ConsoleBrowser
) -> None:
    import time

    import pyotp

    operator = bootstrap_admin(site)
    token = site.sign_in(operator, PASSWORD)
    started = site.graphql("mutation { startTotpEnrolment { secret } }", token=token)
    secret = started["data"]["startTotpEnrolment"]["secret"]
    confirmed = site.graphql(
        "mutation($c: String!) { confirmTotpEnrolment(code: $c) { backupCodes } }",
        {"c": pyotp.TOTP(secret).at(time.time())},
        token,
    )
    backup = confirmed["data"]["confirmTotpEnrolment"]["backupCodes"][0]

    response = browser.sign_in(operator)
    assert response.status_code == 400
    page = _page(response)
    assert "authenticator" in page and 'id="code"' in page
    assert "mg_console_access" not in response.headers.get("set-cookie", "")
    response = browser.post(
        "/admin/sign-in", {"email": operator, "password": PASSWORD, "code": "000000"}
    )
    assert response.status_code == 400 and 'role="alert"' in _page(response)
    response = browser.post(
        "/admin/sign-in", {"email": operator, "password": PASSWORD, "code": backup}
    )
    assert response.status_code == 303, _page(response)
    assert browser.get("/admin").status_code == 200


def test_an_offer_changed_meanwhile_is_a_conflict_shown_on_the_page(
    site: ServedPlatform, admin: str, browser: ConsoleBrowser
) -> None:
    admin_token = site.sign_in(admin, PASSWORD)
    title_id = create_title(site, admin_token, "Console Conflict Title")
    assert browser.sign_in(admin).status_code == 303
    page = browser.get(f"/admin/titles/{title_id}")
    assert page.status_code == 200
    csrf = csrf_of(page)
    # another editor adds an offer after the page was read
    changed = site.graphql(
        "mutation($id: ID!) { setTitleAvailability(id: $id, expectedVersion: 1, offers: "
        '[{platform: "netflix", region: "US", offerType: SUBSCRIPTION, '
        'deepLink: "https://netflix.example/title/9"}]) { version } }',
        {"id": title_id},
        admin_token,
    )
    assert "errors" not in changed, changed
    response = browser.http.post(
        f"/admin/titles/{title_id}/offers",
        data={
            "csrf_token": csrf, "action": "add", "expected_version": "1",
            "platform": "hulu", "region": "US", "offer_type": "FREE",
            "deep_link": "https://hulu.example/title/9", "quality": "HD",
        },
        headers={"origin": site.url},
    )  # fmt: skip
    assert response.status_code == 409
    text = _page(response)
    assert "changed this title since you opened it" in text
    # what was typed is kept in the add form, to send again; the new offer is listed
    add_form = text[text.index('id="add-heading"') :]
    assert 'value="hulu"' in add_form and 'value="hulu"' not in text[: len(text) - len(add_form)]
    assert "netflix.example/title/9" in text
    assert [(o["platform"], o["region"]) for o in offers(site, title_id)] == [("netflix", "US")]


def test_a_forged_session_cookie_gets_no_page(browser: ConsoleBrowser) -> None:
    from jose import jwt

    forged = jwt.encode(
        {"sub": "someone", "scope": "accounts:admin audit:read"}, "not the key", algorithm="HS256"
    )
    browser.http.cookies.set("mg_console_access", forged, domain="127.0.0.1", path="/admin")
    for path in ("/admin", "/admin/health", "/admin/audit", "/admin/accounts?q=example.com"):
        response = browser.get(path)
        assert response.status_code == 401, path
        page = _page(response)
        assert "Sign in to the console" in page and "circuit" not in page.lower()


def test_a_malformed_form_is_a_page_not_a_server_error(
    site: ServedPlatform, browser: ConsoleBrowser
) -> None:
    token = csrf_of(browser.get("/admin/sign-in"))
    too_many = "&".join(f"f{i}=x" for i in range(300))
    response = browser.http.post(
        "/admin/sign-in",
        content=f"csrf_token={token}&{too_many}",
        headers={"origin": site.url, "content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "could not be read" in _page(response)
    response = browser.http.post(
        "/admin/sign-in",
        content=b"--nope\r\nbroken",
        headers={"origin": site.url, "content-type": "multipart/form-data; boundary=nope"},
    )
    assert response.status_code in (400, 403)
    assert 'role="alert"' in _page(response)
