"""The identity service's pages over HTTP: sign-in, consent, TV activation and the email
links, and their refusals (CSRF, redirect URIs, implicit grant, rate limits, unknown codes),
always shown as a page, never as JSON or a traceback."""

from __future__ import annotations

import re
from typing import Any

import httpx

from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD

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
