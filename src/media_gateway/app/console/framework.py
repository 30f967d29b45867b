"""What every page of the console shares, in the manner of the identity service's pages:
rendering (Jinja templates, escaped; a strict content security policy, no script), refusals
shown on the page (never JSON or a traceback), CSRF protection and a rate limit of every form,
and the operator's sign-in kept in HttpOnly, SameSite=Strict cookies limited to the console's
path (Secure when ``PUBLIC_URL`` is https).

- **CSRF**: double-submit. Every rendered form carries ``csrf_token``, the value of the
  console's CSRF cookie; a post whose field differs, or whose ``Origin`` is another site's, is
  refused (``Console.form``).
- **Rate limit**: form posts count per client address (``POSTS_PER_WINDOW`` per
  ``WINDOW_SECONDS``), in Redis when ``REDIS_URL`` is set.
- **The operator's session**: the access and refresh tokens of the ``login`` mutation, kept
  as long as the refresh token; an expired access token is replaced through
  ``refreshSession`` when the gateway refuses it. The console reads the scopes in the access
  token only to choose what to show; the gateway checks the token and the scopes of every
  call.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jose import jwt
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from media_gateway.auth.scopes import OPERATOR_SCOPES
from media_gateway.platform.ratelimit import SlidingWindowLimiter
from media_gateway.platform.settings import Settings

from .client import GatewayLink, GraphQLFailure

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
PREFIX = "/admin"
ACCESS_COOKIE = "mg_console_access"
REFRESH_COOKIE = "mg_console_refresh"
CSRF_COOKIE = "mg_console_csrf"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 32 * 1024
POSTS_PER_WINDOW = 60
WINDOW_SECONDS = 60.0
PAGE_HEADERS = {
    "cache-control": "no-store",
    "pragma": "no-cache",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}

Handler = Callable[[Request], Awaitable[Response]]


class ConsoleError(Exception):
    """A refusal shown on the page."""

    def __init__(self, message: str, status: int = 400, *, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after


class SignInNeeded(Exception):
    """No operator is signed in (or the session ended): on to the sign-in page."""

    def __init__(self, notice: str | None = None) -> None:
        super().__init__(notice or "")
        self.notice = notice


@dataclass
class Operator:
    """The operator signed in on this browser: the access token and what it says."""

    token: str
    refresh_token: str | None
    subject: str
    email: str | None
    scopes: frozenset[str]

    @property
    def operator_scopes(self) -> frozenset[str]:
        return self.scopes & frozenset(OPERATOR_SCOPES)

    def may(self, scope: str) -> bool:
        return scope in self.scopes


class Console:
    """The console's framework over its link to the gateway (see the module's text)."""

    def __init__(self, gateway: GatewayLink, settings: Settings) -> None:
        self.gateway = gateway
        self.settings = settings
        self.limiter = SlidingWindowLimiter(settings.redis_url, "console-posts")
        self.environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(("html",), default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- rendering -----------------------------------------------------------------------
    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        *,
        operator: Operator | None = None,
        error: str | None = None,
        notice: str | None = None,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        csrf = request.cookies.get(CSRF_COOKIE)
        fresh = not _valid_csrf_value(csrf)
        if fresh:
            csrf = secrets.token_urlsafe(32)
        body = self.environment.get_template(template).render(
            prefix=PREFIX,
            csrf_field=CSRF_FIELD,
            csrf_token=csrf,
            operator=operator,
            error=error,
            notice=notice,
            **context,
        )
        response = HTMLResponse(body, status_code=status)
        response.headers.update(PAGE_HEADERS)
        for name, value in (headers or {}).items():
            response.headers[name] = value
        if fresh:
            self.cookie(response, CSRF_COOKIE, str(csrf))
        return response

    def guarded(self, handler: Handler) -> Handler:
        """``handler`` whose refusals are pages: no operator signed in leads to the sign-in
        page, ``ConsoleError`` and unexpected failures to the error page."""

        async def page(request: Request) -> Response:
            try:
                response = await handler(request)
                renewed = getattr(request.state, "console_session", None)
                if renewed is not None:  # the session went on with new tokens
                    self.signed_in(response, *renewed)
                return response
            except SignInNeeded as exc:
                return self.to_sign_in(request, exc.notice)
            except ConsoleError as exc:
                headers = {"retry-after": str(exc.retry_after)} if exc.retry_after else None
                return self.render(
                    request, "message.html", exc.status, title="Something went wrong",
                    error=exc.message, headers=headers, operator=self.operator(request),
                )  # fmt: skip
            except Exception:
                log.exception("console page failed", extra={"path": request.url.path})
                return self.render(
                    request, "message.html", 500, title="Something went wrong",
                    error="Something went wrong on our side. Please try again.",
                )  # fmt: skip

        return page

    def to_sign_in(self, request: Request, notice: str | None = None) -> Response:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = self.render(
            request, "sign_in.html", 401, title="Sign in to the console",
            next=local_path(here), notice=notice, email="",
        )  # fmt: skip
        return self.forget(response) if request.cookies.get(ACCESS_COOKIE) else response

    # -- forms ---------------------------------------------------------------------------
    async def form(self, request: Request) -> FormData:
        """The posted form, once its origin and CSRF token are checked and the post counted
        against the rate limit; ``ConsoleError`` otherwise."""
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            raise ConsoleError("The form is too large.", 413)
        decision = await self.limiter.hit(
            self.client_address(request) or "unknown", POSTS_PER_WINDOW, WINDOW_SECONDS
        )
        if not decision.allowed:
            raise ConsoleError(
                "Too many forms sent; wait a moment and try again.",
                429,
                retry_after=max(1, int(decision.retry_after + 0.999)),
            )
        origin = request.headers.get("origin")
        if origin and origin != "null" and origin not in self._own_origins(request):
            raise ConsoleError("This form was sent from another site; open the page again.", 403)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise ConsoleError("Send the form from its page.", 415)
        try:
            form = await request.form(max_files=0, max_fields=200)
        except (MultiPartException, HTTPException) as exc:  # malformed, or too many fields
            raise ConsoleError("The form could not be read; send it from its page.") from exc
        sent = form.get(CSRF_FIELD)
        expected = request.cookies.get(CSRF_COOKIE)
        if (
            not isinstance(sent, str)
            or not _valid_csrf_value(expected)
            or not secrets.compare_digest(sent.encode(), str(expected).encode())
        ):
            raise ConsoleError(
                "This form has expired or was not sent from its page; open the page again.",
                403,
            )
        return form

    def client_address(self, request: Request) -> str | None:
        peer = request.client.host if request.client else None
        return self.settings.trusted_proxies.client_address(peer, request.headers)

    def _own_origins(self, request: Request) -> set[str]:
        public = urlsplit(self.settings.public_url)
        return {
            f"{public.scheme}://{public.netloc}",
            f"{request.url.scheme}://{request.url.netloc}",
        }

    # -- the operator's session ----------------------------------------------------------
    def operator(self, request: Request) -> Operator | None:
        token = request.cookies.get(ACCESS_COOKIE)
        if not token or len(token) > 8000:
            return None
        try:
            claims = jwt.get_unverified_claims(token)
        except Exception:
            return None
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        refresh = request.cookies.get(REFRESH_COOKIE)
        return Operator(
            token=token,
            refresh_token=refresh if refresh and len(refresh) <= 4000 else None,
            subject=str(claims.get("sub", "")),
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
            scopes=scopes,
        )

    def require(self, request: Request) -> Operator:
        """The signed-in operator; ``SignInNeeded`` when nobody is, ``ConsoleError`` (403)
        for an account without any operator scope."""
        operator = self.operator(request)
        if operator is None:
            raise SignInNeeded()
        if not operator.operator_scopes:
            raise NotAllowed()
        return operator

    async def call(
        self,
        request: Request,
        operator: Operator,
        query: str,
        variables: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A GraphQL operation as the operator; an ended session leads to the sign-in page."""
        address = self.client_address(request)
        try:
            return await self.gateway.graphql(
                query, variables, token=operator.token, address=address
            )
        except GraphQLFailure as exc:
            if exc.code != "UNAUTHENTICATED":
                raise
            if not await self._refresh(request, operator):
                raise SignInNeeded("Your session has ended; sign in again.") from exc
        try:
            return await self.gateway.graphql(
                query, variables, token=operator.token, address=address
            )
        except GraphQLFailure as exc:
            if exc.code == "UNAUTHENTICATED":
                raise SignInNeeded("Your session has ended; sign in again.") from exc
            raise

    async def _refresh(self, request: Request, operator: Operator) -> bool:
        """An expired access token: the session's next one (``refreshSession``), kept in the
        cookies of this request's response. False when the session cannot go on."""
        if not operator.refresh_token:
            return False
        try:
            data = await self.gateway.graphql(
                REFRESH, {"token": operator.refresh_token}, address=self.client_address(request)
            )
        except GraphQLFailure:
            return False
        payload = data.get("refreshSession") or {}
        if not payload.get("accessToken") or not payload.get("refreshToken"):
            return False
        operator.token = str(payload["accessToken"])
        operator.refresh_token = str(payload["refreshToken"])
        request.state.console_session = (
            operator.token,
            operator.refresh_token,
            seconds_until(payload.get("refreshTokenExpiresAt")),
        )
        return True

    def signed_in(self, response: Response, access: str, refresh: str, seconds: int) -> Response:
        self.cookie(response, ACCESS_COOKIE, access, max_age=max(1, seconds))
        self.cookie(response, REFRESH_COOKIE, refresh, max_age=max(1, seconds))
        return response

    def forget(self, response: Response) -> Response:
        for name in (ACCESS_COOKIE, REFRESH_COOKIE):
            response.delete_cookie(name, path=PREFIX, httponly=True, samesite="strict")
        return response

    def cookie(
        self, response: Response, name: str, value: str, *, max_age: int | None = None
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=PREFIX,
            secure=self.settings.public_url.startswith("https://"),
            httponly=True,
            samesite="strict",
        )

    @staticmethod
    def redirect(path: str) -> Response:
        return RedirectResponse(path, status_code=303, headers={"cache-control": "no-store"})

    async def aclose(self) -> None:
        await self.limiter.aclose()


REFRESH = """
mutation ConsoleRefresh($token: String!) {
  refreshSession(refreshToken: $token) { accessToken refreshToken refreshTokenExpiresAt }
}"""


def seconds_until(moment: object, default: int = 900) -> int:
    """Seconds from now until ``moment`` (ISO text), at least 1; ``default`` when unknown."""
    if not isinstance(moment, str):
        return default
    try:
        when = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return default
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(1, int((when - datetime.now(UTC)).total_seconds()))


class NotAllowed(ConsoleError):
    def __init__(self) -> None:
        super().__init__(
            "Your account may not use the console: it needs an operator role (support, "
            "catalog editor or admin). An admin can assign one.",
            403,
        )


def local_path(candidate: str | None, default: str = PREFIX) -> str:
    """``candidate`` when it is a path of the console, else ``default``."""
    if not candidate or len(candidate) > 2000:
        return default
    parts = urlsplit(candidate)
    if (
        parts.scheme
        or parts.netloc
        or not (candidate == PREFIX or candidate.startswith(PREFIX + "/"))
        or "\\" in candidate
        or any(ord(ch) < 32 for ch in candidate)
    ):
        return default
    return candidate


def text(value: object, limit: int = 500) -> str:
    """A posted form field as text, trimmed (absent or a file: empty)."""
    return value.strip()[:limit] if isinstance(value, str) else ""


def _valid_csrf_value(value: str | None) -> bool:
    return bool(value) and 20 <= len(str(value)) <= 100
