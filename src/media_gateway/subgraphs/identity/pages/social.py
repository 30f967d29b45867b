"""Social sign-in pages: ``/login/{provider}`` sends the browser to the provider,
``/login/{provider}/callback`` takes its answer (a query, or a form post for providers that
answer that way), and ``/login/link`` asks the member to confirm linking a provider to an
existing account (or for the authenticator code). Every refusal is a page."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from media_gateway.subgraphs.identity.common import IdentityError
from media_gateway.subgraphs.identity.oidc import SocialSignInError
from media_gateway.subgraphs.identity.pages.framework import (
    PAGE_REDIRECT,
    PageError,
    Pages,
    SignInOption,
)
from media_gateway.subgraphs.identity.social import (
    FLOW_TTL_SECONDS,
    PENDING_TTL_SECONDS,
    Finished,
    SocialSignInService,
)

FLOW_COOKIE = "mg_social_flow"
PENDING_COOKIE = "mg_social_pending"
COOKIE_PATH = "/login"
# the parameters a provider's answer may carry on to the callback
CALLBACK_PARAMETERS = ("code", "state", "error", "error_description", "iss")
TITLES = {
    "provider_error": "Sign-in not completed",
    "provider_unreachable": "Provider unavailable",
    "state_mismatch": "Sign-in not recognised",
    "expired": "Sign-in expired",
    "nonce_mismatch": "Sign-in not recognised",
    "invalid_token": "Sign-in not verified",
    "unverified_email": "Email not verified",
    "unknown_provider": "Provider not available",
    "not_linked": "Sign-in not linked",
    "account_locked": "Account locked",
}


def social_sign_in_options(pages: Pages, social: SocialSignInService) -> list[SignInOption]:
    """The "Sign in with …" buttons of ``/login``, one per configured provider."""
    return [
        SignInOption(f"Sign in with {display}", pages.url(f"/login/{name}"))
        for name, display in social.providers
    ]


def social_routes(pages: Pages, social: SocialSignInService) -> list[Route]:
    def callback_url(provider: str) -> str:
        return pages.url(f"/login/{provider}/callback")

    def refusal(request: Request, exc: SocialSignInError) -> Response:
        response = pages.render(
            request,
            "message.html",
            exc.status,
            title=TITLES.get(exc.kind, "Sign-in not completed"),
            error=exc.message,
            link=pages.url("/login"),
            link_text="Back to sign in",
        )
        response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
        return response

    def cookie(response: Response, name: str, value: str, max_age: int) -> None:
        pages.site.cookie(response, name, value, max_age=max_age, path=COOKIE_PATH)

    def done(finished: Finished) -> Response:
        assert finished.session is not None
        next_path = pages.local_path(finished.next_path)
        destination = pages.url(next_path) if next_path != "/" else pages.url("/login/done")
        response = pages.signed_in(finished.session, destination)
        response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
        response.delete_cookie(PENDING_COOKIE, path=COOKIE_PATH)
        return response

    async def start(request: Request) -> Response:
        provider = request.path_params["provider"]
        await pages.limit(request, "social-start")
        next_path = pages.local_path(request.query_params.get("next"))
        try:
            started = await social.start(provider, callback_url(provider), next_path)
        except SocialSignInError as exc:
            return refusal(request, exc)
        response = RedirectResponse(started.url, status_code=303, headers=PAGE_REDIRECT)
        cookie(response, FLOW_COOKIE, started.binding, FLOW_TTL_SECONDS)
        return response

    async def callback(request: Request) -> Response:
        provider = request.path_params["provider"]
        if request.method == "POST":
            # a provider answering by form post (Apple): on to the same address by GET, a
            # top-level navigation of this site, which carries the flow's cookie
            await pages.limit(request, "social-callback")
            form = await request.form(max_files=0, max_fields=20)
            answer = {
                name: value
                for name in CALLBACK_PARAMETERS
                if isinstance(value := form.get(name), str) and len(value) <= 4096
            }
            return RedirectResponse(
                f"{callback_url(provider)}?{urlencode(answer)}",
                status_code=303,
                headers=PAGE_REDIRECT,
            )
        params = {
            name: value
            for name in CALLBACK_PARAMETERS
            if (value := request.query_params.get(name)) is not None
        }
        try:
            finished = await social.finish(
                provider,
                request.cookies.get(FLOW_COOKIE),
                params,
                client_address=pages.client_address(request),
            )
        except SocialSignInError as exc:
            return refusal(request, exc)
        if finished.session is not None:
            return done(finished)
        assert finished.pending is not None
        response = RedirectResponse(
            pages.url("/login/link"), status_code=303, headers=PAGE_REDIRECT
        )
        response.delete_cookie(FLOW_COOKIE, path=COOKIE_PATH)
        cookie(response, PENDING_COOKIE, finished.pending, PENDING_TTL_SECONDS)
        return response

    async def confirm_page(
        request: Request, *, error: str | None = None, status: int = 200
    ) -> Response:
        token = request.cookies.get(PENDING_COOKIE)
        try:
            pending = await social.pending(token)
        except SocialSignInError as exc:
            return refusal(request, exc)
        title = (
            f"Link {pending.provider_name} to your account"
            if pending.kind == "link"
            else "Two-step sign-in"
        )
        return pages.render(
            request, "social_link.html", status, title=title, error=error, pending=pending
        )

    async def link(request: Request) -> Response:
        if request.method == "GET":
            return await confirm_page(request)
        try:
            posted = await pages.form(request, "social-link")
        except PageError as exc:
            return await confirm_page(request, error=exc.message, status=exc.status)
        token = request.cookies.get(PENDING_COOKIE)
        if posted.get("action") == "cancel":
            await social.cancel(token)
            response = RedirectResponse(pages.url("/login"), status_code=303, headers=PAGE_REDIRECT)
            response.delete_cookie(PENDING_COOKIE, path=COOKIE_PATH)
            return response
        password = posted.get("password")
        code = posted.get("totp_code")
        try:
            finished = await social.confirm(
                token,
                password=password if isinstance(password, str) and password else None,
                totp_code=code.strip() if isinstance(code, str) and code.strip() else None,
                client_address=pages.client_address(request),
            )
        except IdentityError as exc:
            return await confirm_page(
                request, error=str(exc), status=429 if exc.code == "RATE_LIMITED" else 400
            )
        except SocialSignInError as exc:
            return refusal(request, exc)
        return done(finished)

    return [
        Route("/login/link", pages.guarded(link), methods=["GET", "POST"]),
        Route("/login/{provider}", pages.guarded(start), methods=["GET"]),
        Route("/login/{provider}/callback", pages.guarded(callback), methods=["GET", "POST"]),
    ]
