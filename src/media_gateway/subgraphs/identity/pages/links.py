"""The pages the links of account emails open: ``/verify-email?token=...`` confirms the
address (with a button: a mail scanner fetching the link confirms nothing), and
``/reset-password?token=...`` sets a new password under the password policy, whose refusal
is shown on the page. ``/reset-password`` without a token asks for the link by email."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from media_gateway.subgraphs.identity.accounts import AccountService
from media_gateway.subgraphs.identity.common import IdentityError
from media_gateway.subgraphs.identity.credentials import CredentialService
from media_gateway.subgraphs.identity.pages.framework import Pages, text
from media_gateway.subgraphs.identity.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

MAX_TOKEN_LENGTH = 200


def link_routes(
    pages: Pages, accounts: AccountService, credentials: CredentialService
) -> list[Route]:
    async def verify_email(request: Request) -> Response:
        if request.method == "GET":
            token = request.query_params.get("token", "")[:MAX_TOKEN_LENGTH]
            return pages.render(
                request, "verify_email.html", title="Confirm your email address", token=token
            )
        form = await pages.form(request, "verify-email")
        token = text(form.get("token")).strip()[:MAX_TOKEN_LENGTH]
        try:
            if not token:
                raise IdentityError("Enter the verification code from the email.")
            account = await accounts.verify_email(token)
        except IdentityError as exc:
            return pages.render(
                request,
                "verify_email.html",
                400,
                title="Confirm your email address",
                error=str(exc),
                token="",
            )
        return pages.render(
            request,
            "message.html",
            title="Email address confirmed",
            success=True,
            message=f"Thank you: {account.email} is confirmed.",
            link=pages.url("/login"),
            link_text="Sign in",
        )

    def reset_form(
        request: Request, token: str, error: str | None = None, status: int = 200
    ) -> Response:
        return pages.render(
            request,
            "reset_password.html",
            status,
            title="Choose a new password",
            error=error,
            token=token,
            min_length=MIN_PASSWORD_LENGTH,
            max_length=MAX_PASSWORD_LENGTH,
        )

    async def reset_password(request: Request) -> Response:
        if request.method == "GET":
            token = request.query_params.get("token", "")[:MAX_TOKEN_LENGTH]
            if not token:
                return pages.render(request, "forgot_password.html", title="Reset your password")
            return reset_form(request, token)
        form = await pages.form(request, "reset-password")
        token = text(form.get("token")).strip()[:MAX_TOKEN_LENGTH]
        if not token:
            email = text(form.get("email")).strip()
            if "@" not in email or len(email) > 320:
                return pages.render(
                    request,
                    "forgot_password.html",
                    400,
                    title="Reset your password",
                    error="Enter the email address of your account.",
                )
            await credentials.request_password_reset(email)
            return pages.render(
                request,
                "message.html",
                title="Check your email",
                message="If an account has this address, we sent it a link to choose a new "
                "password. The link works for 30 minutes.",
            )
        password = text(form.get("new_password"))
        if password != text(form.get("repeat_password")):
            return reset_form(request, token, "The two passwords differ; type them again.", 400)
        try:
            await credentials.reset_password(token, password)
        except IdentityError as exc:
            if exc.code == "INVALID_TOKEN":
                return pages.render(
                    request,
                    "message.html",
                    400,
                    title="This link does not work",
                    error=str(exc),
                    link=pages.url("/reset-password"),
                    link_text="Ask for a new link",
                )
            return reset_form(request, token, str(exc), 400)
        return pages.render(
            request,
            "message.html",
            title="Password changed",
            success=True,
            message="Your password is changed, and every device was signed out.",
            link=pages.url("/login"),
            link_text="Sign in with the new password",
        )

    return [
        Route("/verify-email", pages.guarded(verify_email), methods=["GET", "POST"]),
        Route("/reset-password", pages.guarded(reset_password), methods=["GET", "POST"]),
    ]
