"""``/login``: email and password (and the authenticator code when two-step sign-in is on),
under the sign-in abuse policy; on success the browser session and back to ``next``.
``/logout`` ends the browser session."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from media_gateway.subgraphs.identity.common import IdentityError
from media_gateway.subgraphs.identity.pages.framework import PAGE_REDIRECT, PageError, Pages, text
from media_gateway.subgraphs.identity.signin import SignInService


@dataclass(frozen=True)
class _Option:
    label: str
    url: str


def login_routes(pages: Pages, sign_in: SignInService) -> list[Route]:
    def options(next_path: str) -> list[_Option]:
        out = []
        for option in pages.sign_in_options:
            separator = "&" if "?" in option.url else "?"
            out.append(
                _Option(option.label, f"{option.url}{separator}{urlencode({'next': next_path})}")
            )
        return out

    def form(
        request: Request,
        next_path: str,
        *,
        email: str | None = None,
        error: str | None = None,
        status: int = 200,
        mfa: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Response:
        return pages.render(
            request,
            "login.html",
            status,
            title="Sign in",
            error=error,
            next=next_path,
            email=email,
            mfa=mfa,
            reason=request.query_params.get("reason") if request.method == "GET" else None,
            options=options(next_path),
            headers=headers,
        )

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return form(request, pages.local_path(request.query_params.get("next")))
        try:
            posted = await pages.form(request, "login")
        except PageError as exc:
            headers = {"retry-after": str(exc.retry_after)} if exc.retry_after else None
            next_path = pages.local_path(request.query_params.get("next"))
            return form(request, next_path, error=exc.message, status=exc.status, headers=headers)
        next_path = pages.local_path(text(posted.get("next")))
        email = text(posted.get("email")).strip()
        password = text(posted.get("password"))
        code = text(posted.get("totp_code")).strip() or None
        if not email or not password:
            return form(request, next_path, email=email, error="Enter your email and password.")
        try:
            session = await sign_in.login(
                email,
                password,
                code,
                client_address=pages.client_address(request),
            )
        except IdentityError as exc:
            retry = exc.extensions.get("retryAfter")
            return form(
                request,
                next_path,
                email=email,
                error=str(exc),
                status=429 if exc.code == "RATE_LIMITED" else 400,
                mfa=exc.code == "MFA_REQUIRED" or exc.field == "totpCode",
                headers={"retry-after": str(retry)} if retry else None,
            )
        return pages.signed_in(
            session, pages.url(next_path) if next_path != "/" else pages.url("/login/done")
        )

    async def done(request: Request) -> Response:
        viewer = pages.viewer(request)
        if viewer is None:
            return RedirectResponse(pages.url("/login"), status_code=303, headers=PAGE_REDIRECT)
        return pages.render(
            request,
            "message.html",
            title="Signed in",
            message="You are signed in.",
            success=True,
        )

    async def logout(request: Request) -> Response:
        form = await pages.form(request, "logout")
        next_path = pages.local_path(text(form.get("next")))
        destination = pages.url("/login", next=next_path if next_path != "/" else None)
        response = RedirectResponse(destination, status_code=303, headers=PAGE_REDIRECT)
        return pages.signed_out(response)

    return [
        Route("/login", pages.guarded(login), methods=["GET", "POST"]),
        Route("/login/done", pages.guarded(done), methods=["GET"]),
        Route("/logout", pages.guarded(logout), methods=["POST"]),
    ]
