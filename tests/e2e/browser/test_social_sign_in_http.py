"""Social sign-in refusals at the HTTP level, against a real OpenID provider (the
``oidc-provider`` package on loopback; see ``social_oidc_provider``).

A sign-in answer that does not belong to the browser's flow (tampered ``state``, another
browser, replayed), a provider's refusal and an unverified email end on a page that says so;
ID tokens the provider really issued are refused for another nonce, another audience, once
expired, when tampered with, or when the issuer is not the one configured.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from media_gateway.subgraphs.identity.oidc import (
    ProviderClient,
    SocialProvider,
    SocialSignInError,
)

from social_oidc_provider import (  # isort: skip
    CLIENT_ID,
    SocialSite,
    follow_provider,
    provider_skip_reason,
    sign_in_at_provider,
)

_reason = provider_skip_reason()
if _reason:
    pytest.skip(_reason, allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SocialSite]:
    made = SocialSite(Path(tmp_path_factory.mktemp("social-http")))
    made.start()
    try:
        yield made
    finally:
        made.stop()


def _browser() -> httpx.Client:
    return httpx.Client(timeout=30, follow_redirects=False)


def _error_of(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("text/html"), response.text
    return response.text


def test_a_tampered_state_is_refused_and_the_flow_is_spent(site: SocialSite) -> None:
    account = site.provider_accounts["sub-http"]
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", account.email)
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["code"] and query["state"]
        tampered = {**query, "state": query["state"][:-2] + "xy"}
        response = browser.get(f"{site.url}{parts.path}?{urlencode(tampered)}")
        assert response.status_code == 400
        assert "does not belong to the sign-in this browser started" in _error_of(response)
        assert "Traceback" not in response.text
        # the flow is spent: its real answer is not accepted afterwards
        response = browser.get(callback)
        assert response.status_code == 400
        assert "has expired or was started in another browser" in _error_of(response)


def test_an_answer_in_another_browser_is_refused(site: SocialSite) -> None:
    account = site.provider_accounts["sub-http"]
    with _browser() as browser, _browser() as other:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", account.email)
        response = other.get(callback)  # no flow cookie: not the browser that started it
        assert response.status_code == 400
        assert "started in another browser" in _error_of(response)
        # and the same answer for another provider's callback is refused in the right browser
        wrong = callback.replace("/login/local/", "/login/other/")
        response = browser.get(wrong)
        assert response.status_code == 400
        assert "does not belong" in _error_of(response)


def test_the_providers_refusal_is_a_page(site: SocialSite) -> None:
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", "", cancel=True)
        assert "error=access_denied" in callback
        response = browser.get(callback)
        assert response.status_code == 400
        assert "Signing in with Test provider was cancelled." in _error_of(response)


def test_an_unverified_email_neither_signs_in_nor_makes_an_account(site: SocialSite) -> None:
    account = site.provider_accounts["sub-unverified"]
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", account.email)
        response = browser.get(callback)
        assert response.status_code == 400
        assert "has no verified email address" in _error_of(response)
        assert "mg_page_session" not in browser.cookies
    identity = site.platform.subgraphs["identity"].service
    assert site.run(identity.accounts.record_by_email(account.email)) is None


def test_an_unknown_provider_is_a_page(site: SocialSite) -> None:
    response = httpx.get(f"{site.url}/login/nowhere", timeout=30)
    assert response.status_code == 404
    assert "not available here" in _error_of(response)


# -- ID tokens the provider issued, checked by the relying party ---------------------------------


def _provider(site: SocialSite, **changes: Any) -> SocialProvider:
    values: dict[str, Any] = {
        "name": "local",
        "display_name": "Test provider",
        "client_id": CLIENT_ID,
        "client_secret": site.provider.client_secret,
        "issuer": site.provider.issuer,
    }
    values.update(changes)
    return SocialProvider(**values)


async def _id_token(site: SocialSite, nonce: str) -> str:
    """An ID token the provider issues to this client for a flow with ``nonce``."""
    provider = _provider(site)
    client = ProviderClient({"local": provider})
    redirect_uri = f"{site.url}/login/local/callback"
    verifier = secrets.token_urlsafe(48)
    url = await client.authorization_request(provider, redirect_uri, "s" * 20, nonce, verifier)
    email = site.provider_accounts["sub-http"].email

    def drive() -> str:
        with _browser() as browser:
            return follow_provider(browser, url, urlsplit(site.url).netloc, email)

    callback = await asyncio.to_thread(drive)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    try:
        tokens = await client.exchange_code(provider, code, redirect_uri, verifier)
    finally:
        await client.aclose()
    return str(tokens["id_token"])


async def test_a_real_id_token_is_accepted_for_its_flow_only(site: SocialSite) -> None:
    nonce = secrets.token_urlsafe(24)
    id_token = await _id_token(site, nonce)
    client = ProviderClient({"local": _provider(site)})
    try:
        claims = await client.validate_id_token(_provider(site), id_token, nonce)
        assert claims["sub"] == "sub-http"
        assert claims["email_verified"] is True

        with pytest.raises(SocialSignInError) as refused:
            await client.validate_id_token(_provider(site), id_token, "another-nonce")
        assert refused.value.kind == "nonce_mismatch"

        # another client's token (another audience)
        other = ProviderClient({"local": _provider(site, client_id="another-client")})
        with pytest.raises(SocialSignInError) as refused:
            await other.validate_id_token(
                _provider(site, client_id="another-client"), id_token, nonce
            )
        assert refused.value.kind == "invalid_token"
        await other.aclose()

        # the same token two hours later: expired
        later = ProviderClient({"local": _provider(site)}, clock=lambda: claims["exp"] + 7200)
        with pytest.raises(SocialSignInError) as refused:
            await later.validate_id_token(_provider(site), id_token, nonce)
        assert refused.value.kind == "invalid_token"
        assert "expired" in refused.value.message
        await later.aclose()

        # a claim changed after signing: the signature no longer holds
        header, payload, signature = id_token.split(".")
        changed = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        changed["email"] = "someone-else@example.com"
        forged = base64.urlsafe_b64encode(json.dumps(changed).encode()).decode().rstrip("=")
        with pytest.raises(SocialSignInError) as refused:
            await client.validate_id_token(_provider(site), f"{header}.{forged}.{signature}", nonce)
        assert refused.value.kind == "invalid_token"

        # claims of another issuer are refused even when the signature would hold
        with pytest.raises(SocialSignInError) as refused:
            client.check_claims(
                _provider(site), {**claims, "iss": "https://issuer.example.com"}, nonce
            )
        assert refused.value.kind == "invalid_token"
    finally:
        await client.aclose()


async def test_a_provider_whose_discovery_names_another_issuer_is_refused(
    site: SocialSite,
) -> None:
    # the same provider reached under another name: its document names its own issuer
    port = urlsplit(site.provider.issuer).port
    provider = _provider(site, issuer=f"http://localhost:{port}")
    client = ProviderClient({"local": provider})
    try:
        with pytest.raises(SocialSignInError) as refused:
            await client.metadata(provider)
        assert refused.value.kind == "provider_error"
        assert "does not describe its issuer" in refused.value.message
    finally:
        await client.aclose()


# -- a social-only account: linking a second provider, unlinking through the gateway -------------

LINKED = "{ me { email linkedSignIns { provider providerName email linkedAt } } }"
UNLINK = """mutation($provider: String!) {
  unlinkSignIn(provider: $provider) { provider } }"""


def _signed_in(browser: httpx.Client, response: httpx.Response, site: SocialSite) -> str:
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"{site.url}/login/done"
    token = browser.cookies.get("mg_page_session")
    assert token
    return str(token)


def test_a_social_only_account_links_another_provider_and_keeps_one_way_in(
    site: SocialSite,
) -> None:
    account = site.provider_accounts["sub-social"]
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", account.email)
        token = _signed_in(browser, browser.get(callback), site)
    me = site.graphql(LINKED, token=token)["data"]["me"]
    assert me["email"] == account.email
    assert [(s["provider"], s["providerName"], s["email"]) for s in me["linkedSignIns"]] == [
        ("local", "Test provider", account.email)
    ]

    # the only way to sign in (no password) cannot be unlinked
    refused = site.graphql(UNLINK, {"provider": "local"}, token=token)
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert refused["errors"][0]["extensions"]["reason"] == "LAST_SIGN_IN"
    missing = site.graphql(UNLINK, {"provider": "other"}, token=token)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # another provider vouching for the same email: confirmed on the page (no password to ask)
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/other", account.email)
        response = browser.get(callback)
        assert response.headers["location"] == f"{site.url}/login/link"
        assert "mg_page_session" not in browser.cookies
        page = browser.get(f"{site.url}/login/link")
        assert "Link Other provider to your account" in page.text
        assert 'name="password"' not in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        # a post without the page's CSRF token is refused
        forged = browser.post(f"{site.url}/login/link", data={"action": "confirm"})
        assert forged.status_code == 403
        assert "mg_page_session" not in browser.cookies
        response = browser.post(
            f"{site.url}/login/link", data={"action": "confirm", "csrf_token": csrf.group(1)}
        )
        second = _signed_in(browser, response, site)
    me = site.graphql(LINKED, token=second)["data"]["me"]
    assert sorted(s["provider"] for s in me["linkedSignIns"]) == ["local", "other"]

    # now one can go, the last one stays
    remaining = site.graphql(UNLINK, {"provider": "local"}, token=second)
    assert remaining["data"]["unlinkSignIn"] == [{"provider": "other"}]
    refused = site.graphql(UNLINK, {"provider": "other"}, token=second)
    assert refused["errors"][0]["extensions"]["reason"] == "LAST_SIGN_IN"

    # the unlinked provider no longer signs in directly: it asks to link again
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", account.email)
        response = browser.get(callback)
        assert response.headers["location"] == f"{site.url}/login/link"


async def _audit_actions(site: SocialSite, user_id: str) -> list[str]:
    from sqlmodel import select

    from media_gateway.storage.audit import AuditEntryRecord

    async with site.platform.runtime.database.session() as session:
        result = await session.exec(
            select(AuditEntryRecord).where(AuditEntryRecord.actor_id == user_id)
        )
        return sorted(entry.action for entry in result.all())


async def _lock(site: SocialSite, user_id: str) -> None:
    from media_gateway.storage.types import utcnow
    from media_gateway.subgraphs.identity.models import UserRecord

    async with site.platform.runtime.database.transaction() as session:
        user = await session.get(UserRecord, user_id)
        assert user is not None
        user.locked_at = utcnow()
        session.add(user)


def test_social_sign_ins_are_audited_and_a_locked_account_is_refused(site: SocialSite) -> None:
    account = site.provider_accounts["sub-locked"]
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", account.email)
        token = _signed_in(browser, browser.get(callback), site)
    user_id = site.graphql("{ me { id } }", token=token)["data"]["me"]["id"]
    assert site.run(_audit_actions(site, user_id)) == ["auth.sign_in", "auth.social_account"]

    site.run(_lock(site, user_id))
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", account.email)
        response = browser.get(callback)
        assert response.status_code == 403
        assert "This account is locked" in _error_of(response)
        assert "mg_page_session" not in browser.cookies


def test_a_social_sign_in_returns_to_the_page_that_asked_and_only_to_this_site(
    site: SocialSite,
) -> None:
    email = site.provider_accounts["sub-next"].email
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local?next=/activate", email)
        response = browser.get(callback)
        assert response.status_code == 303
        assert response.headers["location"] == f"{site.url}/activate"
        assert browser.cookies.get("mg_page_session")
    with _browser() as browser:
        start = f"{site.url}/login/local?next=https://elsewhere.example.com/"
        callback = sign_in_at_provider(browser, start, email)
        response = browser.get(callback)
        assert response.headers["location"] == f"{site.url}/login/done"


def test_two_step_sign_in_asks_for_the_code_after_the_provider(site: SocialSite) -> None:
    import pyotp

    email = site.provider_accounts["sub-mfa"].email
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", email)
        token = _signed_in(browser, browser.get(callback), site)
    secret = site.graphql("mutation { startTotpEnrolment { secret } }", token=token)["data"][
        "startTotpEnrolment"
    ]["secret"]
    confirmed = site.graphql(
        "mutation($c: String!) { confirmTotpEnrolment(code: $c) { backupCodes } }",
        {"c": pyotp.TOTP(secret).now()},
        token=token,
    )
    backup_code = confirmed["data"]["confirmTotpEnrolment"]["backupCodes"][0]

    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", email)
        response = browser.get(callback)
        assert response.headers["location"] == f"{site.url}/login/link"
        assert "mg_page_session" not in browser.cookies
        page = browser.get(f"{site.url}/login/link")
        assert "Two-step sign-in" in page.text
        assert 'name="totp_code"' in page.text and 'name="password"' not in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        wrong = browser.post(
            f"{site.url}/login/link",
            data={"action": "confirm", "csrf_token": csrf.group(1), "totp_code": "000000"},
        )
        assert wrong.status_code == 400
        assert "That code is wrong or was already used" in wrong.text
        assert "mg_page_session" not in browser.cookies
        response = browser.post(
            f"{site.url}/login/link",
            data={"action": "confirm", "csrf_token": csrf.group(1), "totp_code": backup_code},
        )
        again = _signed_in(browser, response, site)
    assert site.graphql("{ me { email } }", token=again)["data"]["me"]["email"] == email


def test_an_answer_by_form_post_continues_in_the_browser_that_started(site: SocialSite) -> None:
    # providers asked for the email with response_mode=form_post (Apple) post their answer
    email = site.provider_accounts["sub-next"].email
    with _browser() as browser:
        callback = sign_in_at_provider(browser, f"{site.url}/login/local", email)
        answer = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
        posted = httpx.post(callback.split("?")[0], data=answer, timeout=30)  # no cookies
        assert posted.status_code == 303
        onward = posted.headers["location"]
        assert onward.startswith(f"{site.url}/login/local/callback?")
        assert parse_qs(urlsplit(onward).query)["state"] == [answer["state"]]
        response = browser.get(onward)  # the browser's own navigation carries its cookie
        _signed_in(browser, response, site)
