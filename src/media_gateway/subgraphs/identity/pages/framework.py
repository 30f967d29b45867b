"""What every page of the identity service shares: rendering (Jinja templates, escaped),
the browser session a sign-in page opens, CSRF protection of forms, rate limits of form
posts, and links built from ``PUBLIC_URL``.

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

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from media_gateway.auth.callers import identify_caller
from media_gateway.auth.tokens import Claims
from media_gateway.platform.settings import Settings
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.identity.common import IdentityError, IdentityStores
from media_gateway.subgraphs.identity.sessions import Session

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_COOKIE = "mg_page_session"
CSRF_COOKIE = "mg_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 16 * 1024
PAGE_HEADERS = {
    "cache-control": "no-store",
    "pragma": "no-cache",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",  # frame-ancestors for browsers that predate it
    "referrer-policy": "no-referrer",
}

Handler = Callable[[Request], Awaitable[Response]]


class PageError(Exception):
    """A refusal shown on the page: ``message`` for the person, ``status`` for the response."""

    def __init__(self, message: str, status: int = 400, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


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
        self.environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(("html",), default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

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
        """``candidate`` when it is a path on this site (never another site: no scheme, no
        host, no ``//`` or backslash), else ``default``: where to go after signing in."""
        if not candidate or len(candidate) > 4000:
            return default
        parts = urlsplit(candidate)
        if (
            parts.scheme
            or parts.netloc
            or not candidate.startswith("/")
            or candidate.startswith("//")
            or "\\" in candidate
            or any(ord(ch) < 32 for ch in candidate)
        ):
            return default
        return candidate

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
        csrf = request.cookies.get(CSRF_COOKIE)
        fresh = not _valid_csrf_value(csrf)
        if fresh:
            csrf = secrets.token_urlsafe(32)
        body = self.environment.get_template(template).render(
            url=self.url,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf,
            error=error,
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        public = _origin(self.settings.public_url)
        for name, value in PAGE_HEADERS.items():
            response.headers[name] = value.format(form_action=f"{public} {form_action}".strip())
        for name, value in (headers or {}).items():
            response.headers[name] = value
        if fresh:
            self._cookie(response, CSRF_COOKIE, str(csrf))
        return response

    def failure(self, request: Request, exc: PageError) -> HTMLResponse:
        headers = {"retry-after": str(exc.retry_after)} if exc.retry_after else None
        return self.render(
            request, "message.html", exc.status, title="Something went wrong",
            error=exc.message, headers=headers,
        )  # fmt: skip

    def guarded(self, handler: Handler) -> Handler:
        """``handler`` whose refusals (``PageError``) and unexpected failures are pages."""

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except PageError as exc:
                return self.failure(request, exc)
            except Exception:
                log.exception("page failed", extra={"path": request.url.path})
                return self.failure(
                    request,
                    PageError("Something went wrong on our side. Please try again.", 500),
                )

        return page

    # -- forms: CSRF and rate limits -----------------------------------------------------
    async def form(self, request: Request, page: str) -> FormData:
        """The posted form, once its origin and CSRF token are checked and the post is
        counted against the page's rate limit; ``PageError`` otherwise."""
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            raise PageError("The form is too large.", 413)
        await self.limit(request, page)
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin not in self._own_origins(request):
            raise PageError("This form was sent from another site; open the page again.", 403)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise PageError("Send the form from its page.", 415)
        try:
            form = await request.form(max_files=0, max_fields=50)
        except (MultiPartException, HTTPException) as exc:  # malformed, or too many fields
            raise PageError("The form could not be read; send it from its page.") from exc
        sent = form.get(CSRF_FIELD)
        expected = request.cookies.get(CSRF_COOKIE)
        if (
            not isinstance(sent, str)
            or not _valid_csrf_value(expected)
            or not secrets.compare_digest(sent.encode(), str(expected).encode())
        ):
            raise PageError(
                "This form has expired or was not sent from its page; open the page again.",
                403,
            )
        return form

    async def limit(self, request: Request, page: str) -> None:
        try:
            await self.stores.limit(
                f"page-{page}", self.client_address(request), self.stores.limits.page_posts
            )
        except IdentityError as exc:
            retry = exc.extensions.get("retryAfter")
            raise PageError(str(exc), 429, retry_after=int(retry) if retry else None) from exc

    def client_address(self, request: Request) -> str | None:
        peer = request.client.host if request.client else None
        return self.settings.trusted_proxies.client_address(peer, request.headers)

    def _own_origins(self, request: Request) -> set[str]:
        public = urlsplit(self.settings.public_url)
        return {
            f"{public.scheme}://{public.netloc}",
            f"{request.url.scheme}://{request.url.netloc}",
        }

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
        same_site: str = "lax",
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.settings.public_url.startswith("https://"),
            httponly=True,
            samesite=same_site,  # type: ignore[arg-type]
        )


PAGE_REDIRECT = {"cache-control": "no-store"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def text(value: object) -> str:
    """A posted form field as text (absent or a file: empty)."""
    return value if isinstance(value, str) else ""


def _valid_csrf_value(value: str | None) -> bool:
    return bool(value) and 20 <= len(str(value)) <= 100
