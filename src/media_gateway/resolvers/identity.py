"""Identity queries and mutations: translate GraphQL to identity service calls.

Requirements declared here (``@authenticated`` / ``@requiresScopes`` in the SDL) are enforced
in this subgraph by ``AuthorizationExtension`` and again by the gateway.
"""

from __future__ import annotations

from typing import Any

import strawberry

from media_gateway.auth.tokens import Claims
from media_gateway.schema.common import ClientError, forbidden, unauthenticated
from media_gateway.schema.identity import (
    ApiKey,
    AuthPayload,
    CreateApiKeyInput,
    CreatedApiKey,
    CreateProfileInput,
    DeviceAuthorization,
    IdentityContext,
    LinkedSignIn,
    LoginInput,
    MfaConfirmation,
    OAuthClient,
    OAuthClientKind,
    Profile,
    RegisterInput,
    TotpEnrolment,
    UpdateProfileInput,
    User,
)
from media_gateway.subgraphs.identity.common import IdentityError
from media_gateway.subgraphs.identity.oauth import OAuthError
from media_gateway.subgraphs.identity.sessions import Session

Info = strawberry.Info[IdentityContext, None]
READ = [["identity:read"]]
WRITE = [["identity:write"]]
ADMIN = [["identity:admin"]]


def _client_error(error: IdentityError) -> ClientError:
    extensions: dict[str, Any] = {"field": error.field} if error.field else {}
    extensions.update(error.extensions)
    return ClientError(str(error), error.code, **extensions)


def _oauth_error(error: OAuthError) -> ClientError:
    return ClientError(error.description, error.error, **error.extra)


def _payload(session: Session) -> AuthPayload:
    return AuthPayload(
        access_token=session.access_token,
        token_type="Bearer",
        expires_at=session.access_token_expires_at,
        refresh_token=session.refresh_token,
        refresh_token_expires_at=session.refresh_token_expires_at,
        user=User.of(session.user, is_owner=True),
        profile=Profile.of(session.profile, active=True) if session.profile else None,
        scopes=sorted(session.scopes),
        device_token=session.device_token,
    )


def _viewer(info: Info) -> Claims:
    viewer = info.context.viewer
    if viewer is None:
        raise unauthenticated("Sign in to do this.")
    return viewer


def _member(info: Info, *, adult: bool = False) -> Claims:
    """A member's own session (not an API key or a third-party app); ``adult``: not a kids
    profile."""
    viewer = _viewer(info)
    if viewer.api_key_id is not None or viewer.raw.get("client_id"):
        raise forbidden("Only the member's own session can do this.")
    if adult and viewer.kids:
        raise forbidden("A kids profile cannot do this.")
    return viewer


@strawberry.type
class Query:
    @strawberry.federation.field(description="The signed-in account.", requires_scopes=READ)
    async def me(self, info: Info) -> User | None:
        context = info.context
        if context.viewer is None:
            if context.auth_error:
                raise unauthenticated(f"The access token was refused: {context.auth_error}.")
            return None
        if "identity:read" not in context.viewer.scopes:
            raise forbidden("This field needs the scope identity:read.")
        account = await context.loaders.users.load(context.viewer.subject)
        return User.of(account) if account else None

    @strawberry.federation.field(
        description="The active viewing profile named by the access token.", requires_scopes=READ
    )
    async def active_profile(self, info: Info) -> Profile | None:
        viewer = info.context.viewer
        if viewer is None or viewer.profile_id is None:
            return None
        profile = await info.context.profiles.profile_of(viewer.subject, viewer.profile_id)
        return Profile.of(profile) if profile else None

    @strawberry.federation.field(description="The account's API keys.", requires_scopes=ADMIN)
    async def api_keys(self, info: Info) -> list[ApiKey] | None:
        viewer = _member(info, adult=True)
        return [ApiKey.of(key) for key in await info.context.api_keys.keys_of(viewer.subject)]


@strawberry.type
class Mutation:
    # -- accounts ----------------------------------------------------------------------------
    @strawberry.mutation(description="Create an account (a confirmation email goes out).")
    async def register(self, info: Info, input: RegisterInput) -> User:
        try:
            account = await info.context.accounts.register(
                input.email,
                input.password,
                input.display_name,
                client_address=info.context.client_address,
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return User.of(account, is_owner=True)

    @strawberry.mutation(description="Sign in with email and password (and TOTP code if enrolled).")
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        try:
            session = await info.context.sign_in.login(
                input.email,
                input.password,
                input.totp_code,
                client_address=info.context.client_address,
                device_token=input.device_token,
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _payload(session)

    @strawberry.mutation(description="Exchange a refresh token for new tokens (single use).")
    async def refresh_session(self, info: Info, refresh_token: str) -> AuthPayload:
        try:
            session = await info.context.sessions.refresh(
                refresh_token, client_address=info.context.client_address
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _payload(session)

    @strawberry.mutation(description="End the session of this refresh token.")
    async def logout(self, info: Info, refresh_token: str) -> bool:
        return await info.context.sessions.logout(refresh_token)

    @strawberry.federation.mutation(
        description="End every session of the account.", requires_scopes=ADMIN
    )
    async def logout_everywhere(self, info: Info) -> bool | None:
        viewer = _member(info, adult=True)
        await info.context.sessions.logout_everywhere(viewer.subject)
        return True

    # -- email verification and password reset ---------------------------------------------
    @strawberry.federation.mutation(
        description="Send the email confirmation link again.", requires_scopes=WRITE
    )
    async def request_email_verification(self, info: Info) -> bool | None:
        try:
            return await info.context.accounts.request_email_verification(_viewer(info).subject)
        except IdentityError as exc:
            raise _client_error(exc) from None

    @strawberry.mutation(description="Confirm an email address with the token it received.")
    async def verify_email(self, info: Info, token: str) -> User:
        try:
            account = await info.context.accounts.verify_email(token)
        except IdentityError as exc:
            raise _client_error(exc) from None
        return User.of(account, is_owner=True)

    @strawberry.mutation(
        description="Email a password reset link; the answer is the same for unknown addresses."
    )
    async def request_password_reset(self, info: Info, email: str) -> bool:
        await info.context.credentials.request_password_reset(email)
        return True

    @strawberry.mutation(
        description="Choose a new password with a reset token; ends every session."
    )
    async def reset_password(self, info: Info, token: str, new_password: str) -> bool:
        try:
            await info.context.credentials.reset_password(token, new_password)
        except IdentityError as exc:
            raise _client_error(exc) from None
        return True

    @strawberry.federation.mutation(
        description=(
            "Change the password; every session of the account ends, this one included, "
            "and new tokens come back."
        ),
        requires_scopes=ADMIN,
    )
    async def change_password(
        self, info: Info, current_password: str, new_password: str
    ) -> AuthPayload | None:
        viewer = _member(info, adult=True)
        try:
            session = await info.context.credentials.change_password(
                viewer, current_password, new_password
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _payload(session)

    # -- social sign-in ---------------------------------------------------------------------
    @strawberry.federation.mutation(
        description="Stop signing in with an outside provider (social sign-in). Refused "
        "(reason LAST_SIGN_IN) when it is the last way left to sign in: set a password or "
        "link another provider first. The sign-ins still linked.",
        requires_scopes=ADMIN,
    )
    async def unlink_sign_in(self, info: Info, provider: str) -> list[LinkedSignIn] | None:
        viewer = _member(info, adult=True)
        try:
            linked = await info.context.social.unlink(viewer.subject, provider)
        except IdentityError as exc:
            raise _client_error(exc) from None
        return [LinkedSignIn.of(item) for item in linked]

    # -- MFA --------------------------------------------------------------------------------
    @strawberry.federation.mutation(
        description="Start turning on two-step sign-in (TOTP).", requires_scopes=ADMIN
    )
    async def start_totp_enrolment(self, info: Info) -> TotpEnrolment | None:
        viewer = _member(info, adult=True)
        try:
            enrolment = await info.context.mfa.start_enrolment(viewer.subject)
        except IdentityError as exc:
            raise _client_error(exc) from None
        return TotpEnrolment(secret=enrolment.secret, provisioning_uri=enrolment.provisioning_uri)

    @strawberry.federation.mutation(
        description="Confirm two-step sign-in with a first code; returns backup codes.",
        requires_scopes=ADMIN,
    )
    async def confirm_totp_enrolment(self, info: Info, code: str) -> MfaConfirmation | None:
        viewer = _member(info, adult=True)
        try:
            codes = await info.context.mfa.confirm_enrolment(viewer.subject, code)
        except IdentityError as exc:
            raise _client_error(exc) from None
        return MfaConfirmation(backup_codes=codes)

    @strawberry.federation.mutation(
        description="Turn two-step sign-in off (needs a current or backup code).",
        requires_scopes=ADMIN,
    )
    async def disable_totp(self, info: Info, code: str) -> bool | None:
        viewer = _member(info, adult=True)
        try:
            return await info.context.mfa.disable(viewer.subject, code)
        except IdentityError as exc:
            raise _client_error(exc) from None

    # -- profiles ---------------------------------------------------------------------------
    @strawberry.federation.mutation(description="Add a viewing profile.", requires_scopes=WRITE)
    async def create_profile(self, info: Info, input: CreateProfileInput) -> Profile | None:
        viewer = _member(info, adult=True)
        try:
            profile = await info.context.profiles.create(
                viewer.subject,
                name=input.name,
                avatar_url=input.avatar_url,
                language=input.language,
                kids=input.kids,
                max_content_rating=input.max_content_rating,
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return Profile.of(profile)

    @strawberry.federation.mutation(description="Change a viewing profile.", requires_scopes=WRITE)
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> Profile | None:
        viewer = _member(info, adult=True)
        changes = {
            name: value
            for name, value in (
                ("name", input.name),
                ("avatar_url", input.avatar_url),
                ("language", input.language),
                ("kids", input.kids),
                ("max_content_rating", input.max_content_rating),
            )
            if value is not strawberry.UNSET
        }
        if changes.get("name", "") is None or changes.get("kids", False) is None:
            raise _client_error(IdentityError("name and kids cannot be null."))
        try:
            profile = await info.context.profiles.update(
                viewer.subject, str(input.profile_id), changes
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return Profile.of(profile)

    @strawberry.federation.mutation(description="Remove a viewing profile.", requires_scopes=WRITE)
    async def delete_profile(self, info: Info, profile_id: strawberry.ID) -> bool | None:
        viewer = _member(info, adult=True)
        return await info.context.profiles.delete(viewer.subject, str(profile_id))

    @strawberry.federation.mutation(
        description="New tokens for a viewing profile; leaving a kids profile needs the password.",
        authenticated=True,
    )
    async def switch_profile(
        self, info: Info, profile_id: strawberry.ID, password: str | None = None
    ) -> AuthPayload | None:
        viewer = _viewer(info)
        if viewer.api_key_id is not None:
            raise forbidden("API keys have no viewing profiles.")
        try:
            session = await info.context.sessions.switch_profile(viewer, str(profile_id), password)
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _payload(session)

    # -- API keys ---------------------------------------------------------------------------
    @strawberry.federation.mutation(
        description="Create an API key; its secret is shown once.", requires_scopes=ADMIN
    )
    async def create_api_key(self, info: Info, input: CreateApiKeyInput) -> CreatedApiKey | None:
        viewer = _member(info, adult=True)
        try:
            key, secret = await info.context.api_keys.create(
                viewer.subject, input.name, input.scopes, input.expires_in_days
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return CreatedApiKey(api_key=ApiKey.of(key), secret=secret)

    @strawberry.federation.mutation(description="Revoke an API key.", requires_scopes=ADMIN)
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> bool | None:
        viewer = _member(info, adult=True)
        return await info.context.api_keys.revoke(viewer.subject, str(id))

    # -- OAuth ------------------------------------------------------------------------------
    @strawberry.mutation(description="A TV or console starts a sign-in (RFC 8628).")
    async def start_device_authorization(
        self, info: Info, client_id: str, scope: str | None = None
    ) -> DeviceAuthorization:
        try:
            grant = await info.context.oauth.start_device_authorization(
                client_id, scope, info.context.client_address
            )
        except OAuthError as exc:
            raise _oauth_error(exc) from None
        return DeviceAuthorization.from_grant(grant)

    @strawberry.federation.mutation(
        description="Approve the device showing this code (from a signed-in phone or browser).",
        requires_scopes=ADMIN,
    )
    async def approve_device_authorization(
        self, info: Info, user_code: str, profile_id: strawberry.ID | None = None
    ) -> bool | None:
        viewer = _member(info)
        try:
            await info.context.oauth.decide_device_authorization(
                viewer, user_code, approve=True, profile_id=str(profile_id) if profile_id else None
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return True

    @strawberry.federation.mutation(
        description="Refuse the device sign-in showing this code.", requires_scopes=ADMIN
    )
    async def deny_device_authorization(self, info: Info, user_code: str) -> bool | None:
        viewer = _member(info)
        try:
            await info.context.oauth.decide_device_authorization(viewer, user_code, approve=False)
        except IdentityError as exc:
            raise _client_error(exc) from None
        return True

    @strawberry.mutation(
        description="The device asks whether it was approved: tokens once, else an error with "
        "extensions.code authorization_pending, slow_down, expired_token or access_denied."
    )
    async def poll_device_authorization(self, info: Info, device_code: str) -> AuthPayload:
        try:
            session = await info.context.oauth.poll_device_authorization(
                device_code, client_address=info.context.client_address
            )
        except OAuthError as exc:
            raise _oauth_error(exc) from None
        except IdentityError as exc:
            raise _client_error(exc) from None
        return _payload(session)

    @strawberry.federation.mutation(
        description="Register a third-party app: a PUBLIC client (browser or mobile app, "
        "authorization code with PKCE), a CONFIDENTIAL one (a server, which also gets a "
        "secret, shown once) or a DEVICE client (a TV or console: the device authorization "
        "grant, no redirect URIs).",
        requires_scopes=ADMIN,
    )
    async def register_oauth_client(
        self,
        info: Info,
        name: str,
        redirect_uris: list[str] | None = None,
        kind: OAuthClientKind = OAuthClientKind.PUBLIC,
    ) -> OAuthClient | None:
        viewer = _member(info, adult=True)
        try:
            client = await info.context.oauth.register_client(
                viewer.subject, name, redirect_uris or [], kind.name.lower()
            )
        except IdentityError as exc:
            raise _client_error(exc) from None
        return OAuthClient.from_client(client)
