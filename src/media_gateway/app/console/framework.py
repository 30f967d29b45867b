"""What every page of the console shares, in the manner of the identity service's pages:
rendering (Jinja templates, escaped; a strict content security policy, no script), refusals
shown on the page (never JSON or a traceback), CSRF protection and a rate limit of every form,
and the operator's sign-in kept in HttpOnly, SameSite=Strict cookies limited to the console's
path (Secure when ``PUBLIC_URL`` is https). The mechanics are the platform's
(``media_gateway.platform.forms``, shared with the identity service's pages).

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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jose import jwt
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from media_gateway.auth.scopes import OPERATOR_SCOPES
from media_gateway.platform.forms import FAILED, FormSite, Handler, PostsLimit
from media_gateway.platform.forms import PageRefusal as ConsoleError
from media_gateway.platform.forms import local_path as site_path
from media_gateway.platform.ratelimit import SlidingWindowLimiter
from media_gateway.platform.settings import Settings

from .client import GatewayLink, GraphQLFailure

TEMPLATES = Path(__file__).resolve().parent / "templates"
PREFIX = "/admin"
ACCESS_COOKIE = "mg_console_access"
REFRESH_COOKIE = "mg_console_refresh"
CSRF_COOKIE = "mg_console_csrf"
MAX_FORM_BYTES = 32 * 1024
POSTS_PER_WINDOW = 60
WINDOW_SECONDS = 60.0

__all__ = ["Console", "ConsoleError", "NotAllowed", "Operator", "SignInNeeded"]


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
        self.site = FormSite(
            settings,
            TEMPLATES,
            CSRF_COOKIE,
            cookie_path=PREFIX,
            same_site="strict",
            max_form_bytes=MAX_FORM_BYTES,
            max_form_fields=200,
        )
        self.environment = self.site.environment
        self.posts = PostsLimit(
            SlidingWindowLimiter(settings.redis_url, "console-posts"),
            POSTS_PER_WINDOW,
            WINDOW_SECONDS,
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
        return self.site.render(
            request, template, status, headers=headers, prefix=PREFIX, operator=operator,
            error=error, notice=notice, **context,
        )  # fmt: skip

    def guarded(self, handler: Handler) -> Handler:
        """``handler`` whose refusals are pages: no operator signed in leads to the sign-in
        page, ``ConsoleError`` and unexpected failures to the error page."""

        async def signed_in(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInNeeded as exc:
                return self.to_sign_in(request, exc.notice)
            renewed = getattr(request.state, "console_session", None)
            if renewed is not None:  # the session went on with new tokens
                self.signed_in(response, *renewed)
            return response

        return self.site.guarded(
            signed_in, refused=self.refused, failed=self.failed, what="console page failed"
        )

    def refused(self, request: Request, exc: ConsoleError) -> Response:
        return self.render(
            request, "message.html", exc.status, title="Something went wrong",
            error=exc.message, headers=exc.headers, operator=self.operator(request),
        )  # fmt: skip

    def failed(self, request: Request) -> Response:
        return self.render(request, "message.html", 500, title="Something went wrong", error=FAILED)

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
        address = self.client_address(request) or "unknown"
        return await self.site.form(request, lambda: self.posts.count(address))

    def client_address(self, request: Request) -> str | None:
        return self.site.client_address(request)

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
        return self.site.forget(response, ACCESS_COOKIE, REFRESH_COOKIE)

    def cookie(
        self, response: Response, name: str, value: str, *, max_age: int | None = None
    ) -> None:
        self.site.cookie(response, name, value, max_age=max_age)

    @staticmethod
    def redirect(path: str) -> Response:
        return RedirectResponse(path, status_code=303, headers={"cache-control": "no-store"})

    async def aclose(self) -> None:
        await self.posts.aclose()


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
    return site_path(candidate, default, under=PREFIX, longest=2000)


def text(value: object, limit: int = 500) -> str:
    """A posted form field as text, trimmed (absent or a file: empty)."""
    return value.strip()[:limit] if isinstance(value, str) else ""
