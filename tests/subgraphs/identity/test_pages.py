"""The identity service's pages over HTTP: sign-in, consent, TV activation and the email
links, and their refusals (CSRF, redirect URIs, implicit grant, rate limits, unknown codes),
always shown as a page, never as JSON or a traceback."""

from __future__ import annotations

import dataclasses
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
from jose import jwt

from media_gateway.assembly.base import Subgraph
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD
from media_gateway.subgraphs.identity.common import Limit
from media_gateway.subgraphs.identity.oauth import DEVICE_CODE_GRANT

from .conftest import Client

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def assert_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    assert response.headers["cache-control"] == "no-store"
    # never framed (clickjacking of the approve and allow buttons)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"


async def sign_in(
    http: httpx.AsyncClient, email: str, password: str, next_path: str = "/"
) -> httpx.Response:
    page = await http.get("/login", params={"next": next_path})
    assert_page(page, 200)
    return await http.post(
        "/login",
        data={"csrf_token": csrf_of(page), "email": email, "password": password, "next": next_path},
    )


async def test_login_page_signs_in_and_goes_back_to_next(
    graph: Client, account: dict[str, Any]
) -> None:
    answer = await sign_in(graph.http, account["email"], "correct horse battery", "/activate")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "http://localhost:4000/activate"
    assert "mg_page_session" in graph.http.cookies


async def test_login_page_shows_wrong_password_on_the_page(graph: Client) -> None:
    answer = await sign_in(graph.http, DEMO_EMAIL, DEMO_PASSWORD + "x")
    assert_page(answer, 400)
    assert "Incorrect email or password." in answer.text
    assert 'role="alert"' in answer.text


async def test_login_refuses_a_post_without_its_csrf_token(graph: Client) -> None:
    await graph.http.get("/login")
    forged = await graph.http.post(
        "/login", data={"csrf_token": "x" * 40, "email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    assert_page(forged, 403)
    assert "mg_page_session" not in graph.http.cookies
    cross_site = await graph.http.post(
        "/login",
        data={
            "csrf_token": graph.http.cookies["mg_csrf"],
            "email": DEMO_EMAIL,
            "password": DEMO_PASSWORD,
        },
        headers={"origin": "https://attacker.example"},
    )
    assert_page(cross_site, 403)


async def test_next_never_leads_to_another_site(graph: Client) -> None:
    for target in ("https://attacker.example/", "//attacker.example/x", "/\\attacker.example"):
        answer = await sign_in(graph.http, DEMO_EMAIL, DEMO_PASSWORD, target)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("http://localhost:4000/login/done")


# -- the authorization endpoint as a page ---------------------------------------------------

REDIRECT = "http://127.0.0.1:33418/callback"


async def _public_client(graph: Client, token: str) -> str:
    body = await graph(
        """mutation($r: [String!]!) {
          registerOauthClient(name: "Example App", redirectUris: $r) { clientId kind } }""",
        {"r": [REDIRECT]},
        token=token,
    )
    assert "errors" not in body, body
    assert body["data"]["registerOauthClient"]["kind"] == "PUBLIC"
    return str(body["data"]["registerOauthClient"]["clientId"])


def _authorization(client_id: str, **overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "catalog:read",
        "state": "s-123",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **overrides,
    }


async def _consent_page(graph: Client, account: dict[str, Any], client_id: str) -> httpx.Response:
    signed_in = await sign_in(graph.http, account["email"], "correct horse battery")
    assert signed_in.status_code == 303
    page = await graph.http.get("/oauth/authorize", params=_authorization(client_id))
    assert_page(page, 200)
    return page


async def test_consent_lists_the_scopes_in_words_and_allow_sends_a_code(
    graph: Client, account: dict[str, Any]
) -> None:
    client_id = await _public_client(graph, account["token"])
    page = await _consent_page(graph, account, client_id)
    assert "Example App" in page.text and "Browse and search the catalog." in page.text
    assert "127.0.0.1:33418" in page.headers["content-security-policy"]  # form-action
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', page.text))
    allowed = await graph.http.post("/oauth/authorize", data={**fields, "decision": "allow"})
    assert allowed.status_code == 303
    location = urlsplit(allowed.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    assert parse_qs(location.query)["state"] == ["s-123"] and parse_qs(location.query)["code"]


async def test_deny_sends_access_denied_back_with_the_state(
    graph: Client, account: dict[str, Any]
) -> None:
    client_id = await _public_client(graph, account["token"])
    page = await _consent_page(graph, account, client_id)
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', page.text))
    denied = await graph.http.post("/oauth/authorize", data={**fields, "decision": "deny"})
    query = parse_qs(urlsplit(denied.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["s-123"]
    assert "code" not in query


async def test_consent_without_its_csrf_token_is_refused(
    graph: Client, account: dict[str, Any]
) -> None:
    client_id = await _public_client(graph, account["token"])
    page = await _consent_page(graph, account, client_id)
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', page.text))
    fields["csrf_token"] = "y" * 43
    forged = await graph.http.post("/oauth/authorize", data={**fields, "decision": "allow"})
    assert_page(forged, 403)
    assert "location" not in forged.headers


async def test_a_wrong_redirect_uri_is_an_error_page_never_a_redirect(
    graph: Client, account: dict[str, Any]
) -> None:
    client_id = await _public_client(graph, account["token"])
    await sign_in(graph.http, account["email"], "correct horse battery")
    for near_miss in (REDIRECT + "/", REDIRECT + "?x=1", "https://attacker.example/callback"):
        refused = await graph.http.get(
            "/oauth/authorize", params=_authorization(client_id, redirect_uri=near_miss)
        )
        assert_page(refused, 400)
        assert "location" not in refused.headers
        assert "redirect URI is not registered" in refused.text
    unknown = await graph.http.get("/oauth/authorize", params=_authorization("app-unknown"))
    assert_page(unknown, 400)


async def test_the_implicit_grant_and_a_missing_pkce_go_back_as_errors(
    graph: Client, account: dict[str, Any]
) -> None:
    client_id = await _public_client(graph, account["token"])
    await sign_in(graph.http, account["email"], "correct horse battery")
    implicit = await graph.http.get(
        "/oauth/authorize", params=_authorization(client_id, response_type="token")
    )
    assert implicit.status_code == 302
    query = parse_qs(urlsplit(implicit.headers["location"]).query)
    assert query["error"] == ["unsupported_response_type"] and "access_token" not in query
    no_pkce = await graph.http.get(
        "/oauth/authorize", params=_authorization(client_id, code_challenge_method="plain")
    )
    assert parse_qs(urlsplit(no_pkce.headers["location"]).query)["error"] == ["invalid_request"]


async def test_a_device_client_cannot_use_the_authorization_endpoint(graph: Client) -> None:
    page = await graph.http.get("/oauth/authorize", params=_authorization("media-gateway-tv"))
    assert_page(page, 400)
    assert "location" not in page.headers


# -- TV activation ----------------------------------------------------------------------------


async def _tv(graph: Client) -> dict[str, Any]:
    started = await graph.http.post(
        "/oauth/device_authorization", data={"client_id": "media-gateway-tv"}
    )
    assert started.status_code == 200, started.text
    grant: dict[str, Any] = started.json()
    return grant


async def test_activate_asks_to_sign_in_first_and_keeps_the_code(graph: Client) -> None:
    grant = await _tv(graph)
    assert grant["verification_uri"] == "http://localhost:4000/activate"
    page = await graph.http.get("/activate", params={"user_code": grant["user_code"]})
    assert page.status_code == 303
    login = urlsplit(page.headers["location"])
    assert login.path == "/login"
    assert parse_qs(login.query)["next"] == [f"/activate?user_code={grant['user_code']}"]


async def test_activate_shows_an_unknown_code_on_the_page(
    graph: Client, account: dict[str, Any]
) -> None:
    await sign_in(graph.http, account["email"], "correct horse battery")
    page = await graph.http.get("/activate", params={"user_code": "BCDF-GHJK"})
    assert_page(page, 400)
    assert "No sign-in is waiting for this code." in page.text
    entry = await graph.http.get("/activate")
    posted = await graph.http.post(
        "/activate",
        data={"csrf_token": csrf_of(entry), "user_code": "ZZZZ", "decision": "approve"},
    )
    assert_page(posted, 400)
    assert "No sign-in is waiting for this code." in posted.text


async def test_activate_approves_with_the_page_and_the_tv_gets_tokens(
    graph: Client, account: dict[str, Any]
) -> None:
    grant = await _tv(graph)
    await sign_in(graph.http, account["email"], "correct horse battery")
    confirm = await graph.http.get("/activate", params={"user_code": grant["user_code"]})
    assert_page(confirm, 200)
    assert "Media Gateway for TV" in confirm.text and grant["user_code"] in confirm.text
    approved = await graph.http.post(
        "/activate",
        data={
            "csrf_token": csrf_of(confirm),
            "user_code": grant["user_code"],
            "decision": "approve",
        },
    )
    assert_page(approved, 200)
    assert "is now signed in" in approved.text
    tokens = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": grant["device_code"],
            "client_id": "media-gateway-tv",
        },
    )
    assert tokens.status_code == 200 and tokens.json()["access_token"]
    again = await graph.http.post(
        "/activate",
        data={
            "csrf_token": csrf_of(confirm),
            "user_code": grant["user_code"],
            "decision": "approve",
        },
    )
    assert_page(again, 400)


# -- email links ------------------------------------------------------------------------------


async def test_email_links_with_an_unknown_token_say_so_on_the_page(graph: Client) -> None:
    verify = await graph.http.get("/verify-email", params={"token": "nope"})
    assert_page(verify, 200)
    refused = await graph.http.post(
        "/verify-email", data={"csrf_token": csrf_of(verify), "token": "nope"}
    )
    assert_page(refused, 400)
    assert "invalid, expired or already used" in refused.text
    reset = await graph.http.get("/reset-password", params={"token": "nope"})
    assert_page(reset, 200)
    long_enough = "violet lanterns drift over quiet harbours"
    unknown = await graph.http.post(
        "/reset-password",
        data={
            "csrf_token": csrf_of(reset),
            "token": "nope",
            "new_password": long_enough,
            "repeat_password": long_enough,
        },
    )
    assert_page(unknown, 400)
    assert "invalid, expired or already used" in unknown.text


async def test_reset_shows_the_password_policy_and_a_mismatch(graph: Client) -> None:
    reset = await graph.http.get("/reset-password", params={"token": "t" * 43})
    csrf = csrf_of(reset)
    mismatch = await graph.http.post(
        "/reset-password",
        data={"csrf_token": csrf, "token": "t" * 43, "new_password": "a", "repeat_password": "b"},
    )
    assert_page(mismatch, 400)
    assert "The two passwords differ" in mismatch.text


# -- rate limits and sign-in with a second factor ----------------------------------------------


async def test_form_posts_are_rate_limited_per_address(identity: Subgraph, graph: Client) -> None:
    services = identity.service
    services.stores.limits = dataclasses.replace(services.stores.limits, page_posts=Limit(3, 300))
    page = await graph.http.get("/verify-email")
    answers = [
        await graph.http.post("/verify-email", data={"csrf_token": csrf_of(page), "token": "x"})
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert_page(answers[-1], 429)
    assert int(answers[-1].headers["retry-after"]) > 0
    assert "Too many attempts" in answers[-1].text


async def test_login_asks_for_the_authenticator_code_when_two_step_sign_in_is_on(
    graph: Client, account: dict[str, Any]
) -> None:
    enrolled = await graph("mutation { startTotpEnrolment { secret } }", token=account["token"])
    assert "errors" not in enrolled, enrolled
    secret = enrolled["data"]["startTotpEnrolment"]["secret"]
    confirmed = await graph(
        "mutation($c: String!) { confirmTotpEnrolment(code: $c) { backupCodes } }",
        {"c": pyotp.TOTP(secret).now()},
        token=account["token"],
    )
    assert "errors" not in confirmed, confirmed
    without = await sign_in(graph.http, account["email"], "correct horse battery")
    assert_page(without, 400)
    assert "Enter the code from your authenticator app." in without.text
    assert 'name="totp_code"' in without.text and "autofocus required" in without.text
    with_code = await graph.http.post(
        "/login",
        data={
            "csrf_token": csrf_of(without),
            "email": account["email"],
            "password": "correct horse battery",
            # the authenticator's code was just spent enrolling: a backup code
            "totp_code": confirmed["data"]["confirmTotpEnrolment"]["backupCodes"][0],
            "next": "/",
        },
    )
    assert with_code.status_code == 303, with_code.text


async def test_activate_lets_the_viewer_pick_the_profile_the_tv_watches_as(
    graph: Client, account: dict[str, Any]
) -> None:
    created = await graph(
        'mutation { createProfile(input: {name: "Little ones", kids: true}) { id } }',
        token=account["token"],
    )
    assert "errors" not in created, created
    kids = created["data"]["createProfile"]["id"]
    grant = await _tv(graph)
    await sign_in(graph.http, account["email"], "correct horse battery")
    confirm = await graph.http.get("/activate", params={"user_code": grant["user_code"]})
    assert "Who watches on this device?" in confirm.text and "Little ones (kids)" in confirm.text
    approved = await graph.http.post(
        "/activate",
        data={
            "csrf_token": csrf_of(confirm),
            "user_code": grant["user_code"],
            "decision": "approve",
            "profile_id": kids,
        },
    )
    assert_page(approved, 200)
    tokens = await graph.http.post(
        "/oauth/token",
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "device_code": grant["device_code"],
            "client_id": "media-gateway-tv",
        },
    )
    claims = jwt.get_unverified_claims(tokens.json()["access_token"])
    assert claims["pid"] == kids and claims["kids"] is True


async def test_activate_refuses_a_profile_of_another_account(
    graph: Client, account: dict[str, Any]
) -> None:
    grant = await _tv(graph)
    await sign_in(graph.http, account["email"], "correct horse battery")
    confirm = await graph.http.get("/activate", params={"user_code": grant["user_code"]})
    refused = await graph.http.post(
        "/activate",
        data={
            "csrf_token": csrf_of(confirm),
            "user_code": grant["user_code"],
            "decision": "approve",
            "profile_id": "someone-elses-profile",
        },
    )
    assert_page(refused, 400)
    assert "No such profile." in refused.text


# -- accessibility and signing out -------------------------------------------------------------


class _Form(HTMLParser):
    """The parts of a page an assistive technology needs: language, headings, labels."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.headings = 0
        self.inputs: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()
        self.open_labels = 0
        self.wrapped = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        elif tag == "h1":
            self.headings += 1
        elif tag == "label":
            self.open_labels += 1
            if values.get("for"):
                self.labelled.add(str(values["for"]))
        elif tag in ("input", "select", "textarea") and values.get("type") != "hidden":
            self.inputs.append(values)
            self.wrapped += 1 if self.open_labels else 0

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def assert_accessible(page: httpx.Response) -> None:
    parsed = _Form()
    parsed.feed(page.text)
    assert parsed.lang == "en" and parsed.headings == 1, page.text
    unlabelled = [
        i for i in parsed.inputs if i.get("id") not in parsed.labelled and i.get("type") != "radio"
    ]
    assert not unlabelled, unlabelled


async def test_every_page_is_labelled_for_assistive_technology(
    graph: Client, account: dict[str, Any]
) -> None:
    for path in ("/login", "/reset-password", "/reset-password?token=t", "/verify-email"):
        page = await graph.http.get(path)
        assert_page(page, 200)
        assert_accessible(page)
    await sign_in(graph.http, account["email"], "correct horse battery")
    grant = await _tv(graph)
    for path in ("/activate", f"/activate?user_code={grant['user_code']}"):
        page = await graph.http.get(path)
        assert_page(page, 200)
        assert_accessible(page)
    client_id = await _public_client(graph, account["token"])
    consent = await graph.http.get("/oauth/authorize", params=_authorization(client_id))
    assert_accessible(consent)


async def test_signing_out_of_the_activation_page(graph: Client, account: dict[str, Any]) -> None:
    await sign_in(graph.http, account["email"], "correct horse battery")
    page = await graph.http.get("/activate")
    assert f"Signed in as {account['email']}" in page.text and 'id="sign-out"' in page.text
    out = await graph.http.post("/logout", data={"csrf_token": csrf_of(page), "next": "/activate"})
    assert out.status_code == 303
    assert out.headers["location"] == "http://localhost:4000/login?next=%2Factivate"
    assert "mg_page_session" not in graph.http.cookies
    again = await graph.http.get("/activate")
    assert again.status_code == 303 and urlsplit(again.headers["location"]).path == "/login"


async def test_a_malformed_form_is_a_page_not_a_server_error(graph: Client) -> None:
    page = await graph.http.get("/login")
    broken = await graph.http.post(
        "/login",
        content=b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + b"1" * 10,
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert_page(broken, broken.status_code)
    assert broken.status_code in (400, 403)
    too_many = await graph.http.post(
        "/login", data={f"f{i}": "1" for i in range(60)} | {"csrf_token": csrf_of(page)}
    )
    assert_page(too_many, 400)
