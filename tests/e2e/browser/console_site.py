"""What the console's tests share: the platform as ``media-gateway serve`` runs it (the
console at ``/admin``), the first admin bootstrapped as an operator does
(``media-gateway admin create``'s function), members, a title to edit, and a browser-like
HTTP client that signs in on the console's form."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from media_gateway.app.admin import create_admin

from pages_site import ServedPlatform  # isort: skip

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def email(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}@example.com"


def bootstrap_admin(site: ServedPlatform) -> str:
    """A new admin account, made by ``media-gateway admin create``'s function: its email."""
    address = email("operator")
    said = site.run(create_admin(site.settings, address, PASSWORD, "An operator"))
    assert "made it an admin" in said, said
    return address


def create_title(site: ServedPlatform, admin_token: str, name: str) -> str:
    created = site.graphql(
        "mutation($input: CreateTitleInput!) { createTitle(input: $input) { entityId version } }",
        {"input": {"kind": "MOVIE", "title": name, "year": 2001}},
        admin_token,
    )
    assert "errors" not in created, created
    return str(created["data"]["createTitle"]["entityId"])


def offers(site: ServedPlatform, title_id: str) -> list[dict[str, Any]]:
    answer = site.graphql(
        "query($id: ID!) { content(id: $id) { availability { platform region offerType "
        "deepLink price currency } } }",
        {"id": title_id},
    )
    assert "errors" not in answer, answer
    return list(answer["data"]["content"]["availability"] or [])


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:2000]
    return found.group(1)


class ConsoleBrowser:
    """An HTTP client that behaves as a browser on the console: it keeps cookies, reads the
    CSRF token from each form and posts forms with the site's own Origin."""

    def __init__(self, site: ServedPlatform) -> None:
        self.site = site
        self.http = httpx.Client(base_url=site.url, timeout=30, follow_redirects=False)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(
        self, path: str, data: dict[str, str], *, csrf_from: str | None = None
    ) -> httpx.Response:
        token = csrf_of(self.get(csrf_from or "/admin/sign-in"))
        return self.http.post(
            path, data={"csrf_token": token, **data}, headers={"origin": self.site.url}
        )

    def sign_in(self, address: str, password: str = PASSWORD) -> httpx.Response:
        return self.post("/admin/sign-in", {"email": address, "password": password})

    def close(self) -> None:
        self.http.close()
