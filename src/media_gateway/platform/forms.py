"""Server-rendered pages with forms: the mechanics every such site of the product shares
(the identity service's pages and the operations console), each site keeping its own
sessions, templates and links.

- **Rendering**: ``FormSite.render`` fills a Jinja template (escaped; a site's ``base.html``
  extends ``templates/forms_page.html``) and answers HTML with ``Cache-Control: no-store`` and
  a strict content security policy (no script, no frame).
- **Refusals**: ``PageRefusal`` is a refusal shown on the page (``message`` for the person,
  ``status`` for the response, ``retry_after`` when waiting helps); ``FormSite.guarded`` turns
  refusals and unexpected failures into pages, never JSON or a traceback.
- **CSRF**: double-submit. Every rendered page hands its template ``csrf_field`` and
  ``csrf_token``, the value of the site's CSRF cookie (set when missing); ``FormSite.form``
  refuses a post whose field differs from the cookie, or whose ``Origin`` is another site's.
- **Rate limits**: ``FormSite.form`` counts every post through the site's hook before reading
  it; ``PostsLimit`` is such a hook over a ``SlidingWindowLimiter``.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from media_gateway.platform.ratelimit import SlidingWindowLimiter
from media_gateway.platform.settings import Settings

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSRF_FIELD = "csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
)
FAILED = "Something went wrong on our side. Please try again."

Handler = Callable[[Request], Awaitable[Response]]
SameSite = Literal["lax", "strict", "none"]


class PageRefusal(Exception):
    """A refusal shown on the page: ``message`` for the person, ``status`` for the response."""

    def __init__(self, message: str, status: int = 400, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        """The response headers the refusal asks for (``Retry-After``), if any."""
        return {"retry-after": str(self.retry_after)} if self.retry_after else None


def template_environment(folder: Path) -> Environment:
    """The Jinja environment of a site's templates: HTML escaped, tidy whitespace. A site's
    ``base.html`` extends ``forms_page.html`` (the page every site shares: head, stylesheet,
    heading, error and content; blocks ``site``, ``style``, ``header``, ``error_details``,
    ``notice``)."""
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(folder), FileSystemLoader(TEMPLATES)]),
        autoescape=select_autoescape(("html",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_headers(form_action: str = "", *, frame_options: bool = False) -> dict[str, str]:
    """The headers of every page: not cached, no script, no frame, no referrer; forms may
    post to this site and to ``form_action`` (more sources, space-separated)."""
    headers = {
        "cache-control": "no-store",
        "pragma": "no-cache",
        "content-security-policy": CONTENT_SECURITY_POLICY.format(
            form_action=f"'self' {form_action}".strip()
        ),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }
    if frame_options:
        headers["x-frame-options"] = "DENY"  # frame-ancestors for browsers that predate it
    return headers


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def text(value: object) -> str:
    """A posted form field as text (absent or a file: empty)."""
    return value if isinstance(value, str) else ""


def local_path(candidate: str | None, default: str, *, under: str = "", longest: int = 4000) -> str:
    """``candidate`` when it is a path on this site (no scheme, no host, no ``//`` or
    backslash, no control character), within ``under`` when given (that path or below it),
    else ``default``: where to go after a sign-in, never another site."""
    if not candidate or len(candidate) > longest:
        return default
    parts = urlsplit(candidate)
    inside = (
        candidate == under or candidate.startswith(under + "/")
        if under
        else candidate.startswith("/") and not candidate.startswith("//")
    )
    if (
        parts.scheme
        or parts.netloc
        or not inside
        or "\\" in candidate
        or any(ord(ch) < 32 for ch in candidate)
    ):
        return default
    return candidate


def valid_csrf_value(value: str | None) -> bool:
    return bool(value) and 20 <= len(str(value)) <= 100


@dataclass
class PostsLimit:
    """Counts a site's form posts per client address over a sliding window; a post beyond
    ``limit`` is a 429 refusal saying ``message`` (with ``Retry-After``)."""

    limiter: SlidingWindowLimiter
    limit: int
    window_seconds: float
    message: str = "Too many forms sent; wait a moment and try again."

    async def count(self, key: str) -> None:
        decision = await self.limiter.hit(key, self.limit, self.window_seconds)
        if not decision.allowed:
            retry_after = max(1, math.ceil(decision.retry_after))
            raise PageRefusal(self.message, 429, retry_after=retry_after)

    async def aclose(self) -> None:
        await self.limiter.aclose()


@dataclass
class FormSite:
    """One site's page mechanics (see the module's text): its templates, its settings
    (``PUBLIC_URL``, trusted proxies), its CSRF cookie and where its cookies live."""

    settings: Settings
    templates: Path
    csrf_cookie: str
    cookie_path: str = "/"
    same_site: SameSite = "lax"
    max_form_bytes: int = 16 * 1024
    max_form_fields: int = 50
    frame_options: bool = False

    def __post_init__(self) -> None:
        self.environment = template_environment(self.templates)

    # -- rendering -----------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        form_action: str = "",
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """``template`` filled with ``context`` and the CSRF token (a fresh one, and its
        cookie, when the browser has none)."""
        csrf = request.cookies.get(self.csrf_cookie)
        fresh = not valid_csrf_value(csrf)
        if fresh:
            csrf = secrets.token_urlsafe(32)
        body = self.environment.get_template(template).render(
            csrf_field=CSRF_FIELD, csrf_token=csrf, **context
        )
        response = HTMLResponse(body, status_code=status)
        response.headers.update(page_headers(form_action, frame_options=self.frame_options))
        for name, value in (headers or {}).items():
            response.headers[name] = value
        if fresh:
            self.cookie(response, self.csrf_cookie, str(csrf))
        return response

    def guarded(
        self,
        handler: Handler,
        *,
        refused: Callable[[Request, PageRefusal], Response],
        failed: Callable[[Request], Response],
        what: str = "page failed",
    ) -> Handler:
        """``handler`` whose refusals are ``refused`` pages and whose unexpected failures are
        logged and ``failed`` pages."""

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except PageRefusal as exc:
                return refused(request, exc)
            except Exception:
                log.exception(what, extra={"path": request.url.path})
                return failed(request)

        return page

    # -- forms ---------------------------------------------------------------------------
    async def form(self, request: Request, count: Callable[[], Awaitable[None]]) -> FormData:
        """The posted form, once the post is counted (``count`` refuses it beyond the rate
        limit) and its origin and CSRF token are checked; ``PageRefusal`` otherwise."""
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_form_bytes):
            raise PageRefusal("The form is too large.", 413)
        await count()
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin not in self.own_origins(request):
            raise PageRefusal("This form was sent from another site; open the page again.", 403)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in FORM_TYPES:
            raise PageRefusal("Send the form from its page.", 415)
        try:
            form = await request.form(max_files=0, max_fields=self.max_form_fields)
        except (MultiPartException, HTTPException) as exc:  # malformed, or too many fields
            raise PageRefusal("The form could not be read; send it from its page.") from exc
        sent = form.get(CSRF_FIELD)
        expected = request.cookies.get(self.csrf_cookie)
        if (
            not isinstance(sent, str)
            or not valid_csrf_value(expected)
            or not secrets.compare_digest(sent.encode(), str(expected).encode())
        ):
            raise PageRefusal(
                "This form has expired or was not sent from its page; open the page again.",
                403,
            )
        return form

    def client_address(self, request: Request) -> str | None:
        """The client's address, behind the trusted proxies of the settings."""
        peer = request.client.host if request.client else None
        return self.settings.trusted_proxies.client_address(peer, request.headers)

    def own_origins(self, request: Request) -> set[str]:
        """The origins a form of this site may be posted from: ``PUBLIC_URL``'s and the
        request's own."""
        return {origin_of(self.settings.public_url), origin_of(str(request.url))}

    # -- cookies -------------------------------------------------------------------------
    def cookie(
        self,
        response: Response,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        same_site: SameSite | None = None,
        path: str | None = None,
    ) -> None:
        """An HttpOnly cookie under the site's path or ``path`` (Secure when ``PUBLIC_URL``
        is https)."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=path or self.cookie_path,
            secure=self.settings.public_url.startswith("https://"),
            httponly=True,
            samesite=same_site or self.same_site,
        )

    def forget(self, response: Response, *names: str) -> Response:
        for name in names:
            response.delete_cookie(
                name, path=self.cookie_path, httponly=True, samesite=self.same_site
            )
        return response
