"""``media_gateway.platform.forms``: the mechanics of the product's form pages (the identity
service's pages and the console use them; their own tests cover them over HTTP). Here a small
site of its own, over HTTP: the CSRF cookie and field, the Origin check, the posts limit with
``Retry-After``, refusals and failures as pages, and paths that never lead to another site."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from media_gateway.platform.forms import (
    FAILED,
    FormSite,
    PageRefusal,
    PostsLimit,
    local_path,
    text,
)
from media_gateway.platform.ratelimit import SlidingWindowLimiter
from media_gateway.platform.settings import Settings

PUBLIC = "https://pages.example.com"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE = """{% extends "forms_page.html" %}
{% block site %}Example site{% endblock %}
{% block content %}
<form method="post"><input type="hidden" name="{{ csrf_field }}" value="{{ csrf_token }}">
<p id="said">{{ said }}</p></form>
{% endblock %}"""


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "page.html").write_text(PAGE)
    settings = Settings.from_env({"PUBLIC_URL": PUBLIC, "MEDIA_GATEWAY_DATA_DIR": str(tmp_path)})
    site = FormSite(settings, tmp_path, "example_csrf", cookie_path="/site", same_site="strict")
    posts = PostsLimit(SlidingWindowLimiter(None, f"test-forms-{uuid.uuid4().hex[:8]}"), 3, 60)

    def refused(request: Request, exc: PageRefusal) -> Response:
        return site.render(
            request, "page.html", exc.status, title="Refused", error=exc.message,
            headers=exc.headers,
        )  # fmt: skip

    def failed(request: Request) -> Response:
        return site.render(request, "page.html", 500, title="Failed", error=FAILED)

    async def page(request: Request) -> Response:
        said = ""
        if request.method == "POST":
            form = await site.form(request, lambda: posts.count("one client"))
            said = text(form.get("words"))
            if said == "break":
                raise RuntimeError("an unexpected failure")
        return site.render(request, "page.html", title="A form", said=said)

    app = Starlette(
        routes=[
            Route(
                "/site", site.guarded(page, refused=refused, failed=failed), methods=["GET", "POST"]
            )
        ]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC) as made:
        yield made
    await posts.aclose()


def token_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def assert_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "form-action 'self';" in policy
    assert "Traceback" not in response.text
    assert "· Example site</title>" in response.text  # the shared skeleton, the site's name


async def test_a_form_posted_from_its_page_is_read(client: httpx.AsyncClient) -> None:
    page = await client.get("/site")
    assert_page(page, 200)
    cookie = page.headers["set-cookie"]
    assert "example_csrf=" in cookie and "Path=/site" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    sent = await client.post(
        "/site", data={"csrf_token": token_of(page), "words": "<hello>"}, headers={"origin": PUBLIC}
    )
    assert_page(sent, 200)
    assert '<p id="said">&lt;hello&gt;</p>' in sent.text  # escaped
    assert "set-cookie" not in sent.headers  # the token is kept


async def test_forged_and_foreign_posts_are_refused_on_a_page(client: httpx.AsyncClient) -> None:
    page = await client.get("/site")
    forged = await client.post("/site", data={"csrf_token": "x" * 43, "words": "hi"})
    assert_page(forged, 403)
    assert "expired or was not sent from its page" in forged.text
    foreign = await client.post(
        "/site",
        data={"csrf_token": token_of(page)},
        headers={"origin": "https://elsewhere.example.com"},
    )
    assert_page(foreign, 403)
    assert "another site" in foreign.text
    not_a_form = await client.post("/site", json={"csrf_token": token_of(page)})
    assert_page(not_a_form, 415)


async def test_posts_beyond_the_limit_wait(client: httpx.AsyncClient) -> None:
    token = token_of(await client.get("/site"))
    answers = [await client.post("/site", data={"csrf_token": token}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert_page(answers[-1], 429)
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert "Too many forms sent" in answers[-1].text


async def test_an_unexpected_failure_is_a_page(client: httpx.AsyncClient) -> None:
    token = token_of(await client.get("/site"))
    failed = await client.post("/site", data={"csrf_token": token, "words": "break"})
    assert_page(failed, 500)
    assert "an unexpected failure" not in failed.text
    assert FAILED in failed.text


@pytest.mark.parametrize(
    ("candidate", "under", "expected"),
    [
        ("/account?tab=1", "", "/account?tab=1"),
        ("//elsewhere.example.com/", "", "/"),
        ("https://elsewhere.example.com/", "", "/"),
        ("/a\\b", "", "/"),
        ("/line\nbreak", "", "/"),
        ("relative", "", "/"),
        (None, "", "/"),
        ("/site/deeper", "/site", "/site/deeper"),
        ("/siteless", "/site", "/"),
    ],
)
def test_only_paths_of_the_site_are_followed(
    candidate: str | None, under: str, expected: str
) -> None:
    assert local_path(candidate, "/", under=under) == expected
