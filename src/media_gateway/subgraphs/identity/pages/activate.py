"""``/activate``: a member approves (or denies) a TV's sign-in (RFC 8628 3.3). The code the
TV shows is entered here, or comes pre-filled from ``verification_uri_complete``; the
member signs in first (two-step sign-in included), then sees which app asks, with what
scopes, picks the viewing profile the device watches as (when the account has profiles)
and decides. The TV, polling the token endpoint, gets its tokens once approved."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from media_gateway.auth.scopes import SCOPES
from media_gateway.auth.tokens import Claims
from media_gateway.subgraphs.identity.accounts import AccountService
from media_gateway.subgraphs.identity.common import IdentityError
from media_gateway.subgraphs.identity.oauth import OAuthService
from media_gateway.subgraphs.identity.pages.framework import PAGE_REDIRECT, Pages, text
from media_gateway.subgraphs.identity.profiles import ProfileService

MAX_CODE_LENGTH = 32


def scope_words(scopes: tuple[str, ...] | frozenset[str]) -> list[str]:
    """What each scope lets an app do, in words (unknown scopes by name)."""
    return [SCOPES.get(scope, scope) for scope in sorted(scopes)]


def activate_routes(
    pages: Pages, oauth: OAuthService, accounts: AccountService, profiles: ProfileService
) -> list[Route]:
    async def email_of(viewer: Claims) -> str:
        return (await accounts.account(viewer.subject)).email

    async def entry(
        request: Request, viewer: Claims, code: str, error: str | None = None, status: int = 200
    ) -> Response:
        return pages.render(
            request,
            "activate.html",
            status,
            title="Sign in on your TV",
            error=error,
            user_code=code,
            email=await email_of(viewer),
        )

    async def confirm(request: Request, viewer: Claims, code: str) -> Response:
        try:
            pending = await oauth.pending_device_authorization(code)
        except IdentityError as exc:
            return await entry(request, viewer, code, str(exc), 400)
        return pages.render(
            request,
            "activate_confirm.html",
            title="Sign in on your TV",
            client_name=pending.client.name,
            user_code=pending.user_code,
            scopes=scope_words(pending.scopes),
            email=await email_of(viewer),
            profiles=await profiles.profiles_of([viewer.subject]),
        )

    def to_login(request: Request) -> Response:
        return RedirectResponse(pages.login_url(request), status_code=303, headers=PAGE_REDIRECT)

    async def activate(request: Request) -> Response:
        viewer = pages.viewer(request)
        if request.method == "GET":
            if viewer is None:
                return to_login(request)
            code = request.query_params.get("user_code", "")[:MAX_CODE_LENGTH]
            if code:
                return await confirm(request, viewer, code)
            return await entry(request, viewer, "")
        form = await pages.form(request, "activate")
        code = text(form.get("user_code")).strip()[:MAX_CODE_LENGTH]
        if viewer is None:
            return RedirectResponse(
                pages.url("/login", next=f"/activate?user_code={code}" if code else "/activate"),
                status_code=303,
                headers=PAGE_REDIRECT,
            )
        decision = text(form.get("decision"))
        if not code:
            return await entry(request, viewer, "", "Enter the code your device shows.", 400)
        if decision not in ("approve", "deny"):
            return await confirm(request, viewer, code)
        try:
            client = await oauth.decide_device_authorization(
                viewer,
                code,
                approve=decision == "approve",
                profile_id=text(form.get("profile_id"))[:64] or None,
            )
        except IdentityError as exc:
            status = 429 if exc.code == "RATE_LIMITED" else 400
            return await entry(request, viewer, code, str(exc), status)
        if decision == "approve":
            return pages.render(
                request,
                "message.html",
                title="Device signed in",
                success=True,
                message=f"{client.name} is now signed in to your account.",
                detail="You can go back to your device; it continues on its own.",
            )
        return pages.render(
            request,
            "message.html",
            title="Sign-in denied",
            message=f"{client.name} was not signed in.",
            detail="The device shows that the sign-in was refused.",
        )

    return [Route("/activate", pages.guarded(activate), methods=["GET", "POST"])]
