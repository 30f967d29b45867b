"""What every page of the identity service shares: rendering (Jinja templates, escaped),
the browser session a sign-in page opens, CSRF protection of forms, rate limits of form
posts, and links built from ``PUBLIC_URL``.

The mechanics are the platform's (``media_gateway.platform.forms``, shared with the
operations console); what is the identity service's own is here.

- **Rendering**: ``Pages.render`` fills a template of ``templates/`` (each extends
  ``base.html``) and answers HTML with ``Cache-Control: no-store`` and a strict content
  security policy (no script, no frame). A refusal is shown on the page (``error``), never as
  JSON or a traceback: ``Pages.guarded`` turns any unexpected failure into the error page.
- **Browser session**: signing in on a page sets an HttpOnly, SameSite=Lax cookie holding the
  session's access token; ``Pages.viewer`` reads it back (verified like any bearer token,
  revoked sessions refused). It ends when the access token does.
- **CSRF**: double-submit. Every rendered form carries ``csrf_token``, the value of a
  SameSite=Lax cookie (kept when another site sends the browser here, as an app does); a
  post whose field differs from the cookie, or whose ``Origin`` is another site's, is
  refused (``Pages.form``).
- **Rate limits**: form posts count per client address and page (``Limits.page_posts``).
- **Sign-in options**: ``Pages.sign_in_options`` lists other ways to sign in (social
  providers) shown on ``/login``; empty by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from media_gateway.auth.callers import identify_caller
from media_gateway.auth.tokens import Claims
from media_gateway.platform.forms import (
    CSRF_FIELD,
    FAILED,
    FormSite,
    Handler,
    SameSite,
    local_path,
    origin_of,
    text,
)
from media_gateway.platform.forms import PageRefusal as PageError
from media_gateway.platform.settings import Settings
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.identity.common import IdentityError, IdentityStores
from media_gateway.subgraphs.identity.sessions import Session

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_COOKIE = "mg_page_session"
CSRF_COOKIE = "mg_csrf"
MAX_FORM_BYTES = 16 * 1024

__all__ = ["CSRF_FIELD", "PAGE_REDIRECT", "PageError", "Pages", "SignInOption", "text"]


@dataclass(frozen=True)
class SignInOption:
    """Another way to sign in, listed on ``/login`` (a social provider): the button's words
    and where it leads (``next`` is appended as a query parameter)."""

    label: str
    url: str


@dataclass
class Pages:
    """The page framework over the identity service's stores (see the module's text)."""

    stores: IdentityStores
    sign_in_options: list[SignInOption] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.site = FormSite(
            self.stores.settings,
            TEMPLATES,
            CSRF_COOKIE,
            max_form_bytes=MAX_FORM_BYTES,
            max_form_fields=50,
            frame_options=True,
        )
        self.environment = self.site.environment

    @property
    def settings(self) -> Settings:
        return self.stores.settings

    # -- links ---------------------------------------------------------------------------
    def url(self, path: str, **query: str | None) -> str:
        """An absolute link under ``PUBLIC_URL``."""
        values = {k: v for k, v in query.items() if v is not None}
        suffix = f"?{urlencode(values)}" if values else ""
        return f"{self.settings.public_url}{path}{suffix}"

    @staticmethod
    def local_path(candidate: str | None, default: str = "/") -> str:
        """``candidate`` when it is a path on this site, else ``default``: where to go after
        signing in."""
        return local_path(candidate, default)

    def login_url(self, request: Request) -> str:
        """``/login`` that brings the person back to this request's page."""
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return self.url("/login", next=here)

    # -- rendering -----------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        error: str | None = None,
        form_action: str = "",
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        public = origin_of(self.settings.public_url)
        return self.site.render(
            request, template, status, form_action=f"{public} {form_action}".strip(),
            headers=headers, url=self.url, error=error, **context,
        )  # fmt: skip

    def failure(self, request: Request, exc: PageError) -> HTMLResponse:
        return self.render(
            request, "message.html", exc.status, title="Something went wrong",
            error=exc.message, headers=exc.headers,
        )  # fmt: skip

    def guarded(self, handler: Handler) -> Handler:
        """``handler`` whose refusals (``PageError``) and unexpected failures are pages."""
        return self.site.guarded(
            handler,
            refused=self.failure,
            failed=lambda request: self.failure(request, PageError(FAILED, 500)),
        )

    # -- forms: CSRF and rate limits -----------------------------------------------------
    async def form(self, request: Request, page: str) -> FormData:
        """The posted form, once its origin and CSRF token are checked and the post is
        counted against the page's rate limit; ``PageError`` otherwise."""
        return await self.site.form(request, lambda: self.limit(request, page))

    async def limit(self, request: Request, page: str) -> None:
        try:
            await self.stores.limit(
                f"page-{page}", self.client_address(request), self.stores.limits.page_posts
            )
        except IdentityError as exc:
            retry = exc.extensions.get("retryAfter")
            raise PageError(str(exc), 429, retry_after=int(retry) if retry else None) from exc

    def client_address(self, request: Request) -> str | None:
        return self.site.client_address(request)

    # -- the browser session -------------------------------------------------------------
    def viewer(self, request: Request) -> Claims | None:
        """The member signed in on this browser (the page session's cookie), if any."""
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 8000:
            return None
        claims, _ = identify_caller({"authorization": f"Bearer {token}"}, self.settings)
        if claims is None or claims.api_key_id is not None or claims.raw.get("client_id"):
            return None
        return claims

    def signed_in(self, session: Session, destination: str) -> Response:
        """After a sign-in on a page: the session cookie, then on to ``destination``."""
        response = RedirectResponse(destination, status_code=303, headers=PAGE_REDIRECT)
        seconds = int((as_utc(session.access_token_expires_at) - utcnow()).total_seconds())
        self._cookie(response, SESSION_COOKIE, session.access_token, max_age=max(1, seconds))
        return response

    def signed_out(self, response: Response) -> Response:
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def _cookie(
        self,
        response: Response,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        same_site: SameSite = "lax",
    ) -> None:
        self.site.cookie(response, name, value, max_age=max_age, same_site=same_site)


PAGE_REDIRECT = {"cache-control": "no-store"}
