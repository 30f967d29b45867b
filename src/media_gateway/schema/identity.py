"""Identity types: ``User`` (owned here), viewing profiles, sessions, MFA, API keys and the
OAuth device grant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import strawberry

from media_gateway.dataloaders.identity import IdentityLoaders
from media_gateway.schema.common import forbidden
from media_gateway.schema.context import RequestContext
from media_gateway.subgraphs.identity.accounts import Account, AccountService
from media_gateway.subgraphs.identity.administration import AdministrationService
from media_gateway.subgraphs.identity.api_keys import ApiKey as ApiKeyData
from media_gateway.subgraphs.identity.api_keys import ApiKeyService
from media_gateway.subgraphs.identity.credentials import CredentialService
from media_gateway.subgraphs.identity.mfa import MfaService
from media_gateway.subgraphs.identity.oauth import DeviceAuthorization as DeviceGrant
from media_gateway.subgraphs.identity.oauth import OAuthClient as OAuthClientData
from media_gateway.subgraphs.identity.oauth import OAuthService
from media_gateway.subgraphs.identity.profiles import Profile as ViewingProfile
from media_gateway.subgraphs.identity.profiles import ProfileService
from media_gateway.subgraphs.identity.sessions import SessionService
from media_gateway.subgraphs.identity.signin import SignInService
from media_gateway.subgraphs.identity.social import LinkedSignIn as LinkedSignInData
from media_gateway.subgraphs.identity.social import SocialSignInService


def client_address(headers: Mapping[str, str]) -> str | None:
    """The caller's address, as the service's HTTP layer (or, in process, the gateway) put it
    in ``x-forwarded-for`` after applying the trusted-proxy rule (``TRUSTED_PROXIES``)."""
    for name, value in headers.items():
        if name.lower() == "x-forwarded-for":
            return value.split(",")[-1].strip()[:64] or None
    return None


@dataclass
class IdentityContext(RequestContext):
    """The identity subgraph's per-request context: its sub-domain services and loaders."""

    accounts: AccountService
    sign_in: SignInService
    sessions: SessionService
    mfa: MfaService
    profiles: ProfileService
    credentials: CredentialService
    api_keys: ApiKeyService
    oauth: OAuthService
    social: SocialSignInService
    loaders: IdentityLoaders
    administration: AdministrationService

    @property
    def client_address(self) -> str | None:
        return client_address(self.headers)


Info = strawberry.Info[IdentityContext, None]


@strawberry.type(description="A viewing profile of an account, with its parental controls.")
class Profile:
    id: strawberry.ID
    name: str
    avatar_url: str | None
    language: str
    kids: bool = strawberry.field(description="A kids profile: at most PG, and locked.")
    max_content_rating: str | None = strawberry.field(
        description="The highest rating shown (G < PG < PG-13 < R < NC-17); null = no limit."
    )
    created_at: datetime
    _active: strawberry.Private[bool | None] = None

    @strawberry.field(description="Whether the caller's token (or the new one) names it.")
    def active(self, info: Info) -> bool:
        if self._active is not None:
            return self._active
        viewer = info.context.viewer
        return viewer is not None and viewer.profile_id == str(self.id)

    @classmethod
    def of(cls, profile: ViewingProfile, *, active: bool | None = None) -> Profile:
        return cls(
            id=strawberry.ID(profile.id),
            name=profile.name,
            avatar_url=profile.avatar_url,
            language=profile.language,
            kids=profile.kids,
            max_content_rating=profile.max_content_rating,
            created_at=profile.created_at,
            _active=active,
        )


@strawberry.type(description="A way to sign in at an outside provider, linked to the account.")
class LinkedSignIn:
    provider: str = strawberry.field(
        description="The provider's name in the sign-in address (/login/{provider}), the "
        "argument of unlinkSignIn: google, apple, github or a configured OpenID provider."
    )
    provider_name: str = strawberry.field(description="The provider's name for people.")
    email: str | None = strawberry.field(
        description="The verified email the provider vouched for when it was linked."
    )
    linked_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, linked: LinkedSignInData) -> LinkedSignIn:
        return cls(
            provider=linked.provider,
            provider_name=linked.provider_name,
            email=linked.email,
            linked_at=linked.linked_at,
            last_used_at=linked.last_used_at,
        )


@strawberry.federation.type(keys=["id"], description="A member account.")
class User:
    id: strawberry.ID
    display_name: str
    created_at: datetime
    _email: strawberry.Private[str]
    _is_owner: strawberry.Private[bool] = False
    _email_verified: strawberry.Private[bool] = False
    _mfa_enabled: strawberry.Private[bool] = False

    def _owner_only(self, info: Info, what: str) -> None:
        if not self._is_owner and info.context.viewer_id != self.id:
            raise forbidden(f"Only the account's owner can see its {what}.")

    @strawberry.field(description="The account's email address; visible to its owner only.")
    def email(self, info: Info) -> str | None:
        self._owner_only(info, "email address")
        return self._email

    @strawberry.field(description="Whether the email address was confirmed; owner only.")
    def email_verified(self, info: Info) -> bool | None:
        self._owner_only(info, "email status")
        return self._email_verified

    @strawberry.field(description="Whether sign-in needs an authenticator code; owner only.")
    def mfa_enabled(self, info: Info) -> bool | None:
        self._owner_only(info, "sign-in settings")
        return self._mfa_enabled

    @strawberry.federation.field(
        description="The account's viewing profiles; owner only.",
        requires_scopes=[["identity:read"]],
    )
    async def profiles(self, info: Info) -> list[Profile] | None:
        self._owner_only(info, "profiles")
        profiles = await info.context.loaders.profiles.load(str(self.id))
        return [Profile.of(profile) for profile in profiles]

    @strawberry.federation.field(
        description="The outside providers the account signs in with (social sign-in); owner only.",
        requires_scopes=[["identity:read"]],
    )
    async def linked_sign_ins(self, info: Info) -> list[LinkedSignIn] | None:
        self._owner_only(info, "sign-in settings")
        linked = await info.context.loaders.linked_sign_ins.load(str(self.id))
        return [LinkedSignIn.of(item) for item in linked]

    @classmethod
    def of(cls, account: Account, *, is_owner: bool = False) -> User:
        """``is_owner``: the caller is this account (it just registered or signed in)."""
        return cls(
            id=strawberry.ID(account.id),
            display_name=account.display_name,
            created_at=account.created_at,
            _email=account.email,
            _is_owner=is_owner,
            _email_verified=account.email_verified,
            _mfa_enabled=account.mfa_enabled,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> User | None:
        account = await info.context.loaders.users.load(str(id))
        return cls.of(account) if account else None


@strawberry.input
class RegisterInput:
    email: str
    password: str
    display_name: str


@strawberry.input
class LoginInput:
    email: str
    password: str
    totp_code: str | None = strawberry.field(
        default=None, description="An authenticator code, or a backup code (xxxxx-xxxxx)."
    )
    device_token: str | None = strawberry.field(
        default=None,
        description="The deviceToken an earlier sign-in on this device returned: failed "
        "sign-ins elsewhere never slow it down.",
    )


@strawberry.type(description="A signed-in session: a short-lived access token and a refresh token.")
class AuthPayload:
    access_token: str
    token_type: str
    expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    user: User
    profile: Profile | None = strawberry.field(description="The active viewing profile.")
    scopes: list[str]
    device_token: str | None = strawberry.field(
        default=None,
        description="Keep on this device and send with later sign-ins (login's deviceToken).",
    )


@strawberry.type(description="A TOTP secret to add to an authenticator app, then confirm.")
class TotpEnrolment:
    secret: str
    provisioning_uri: str = strawberry.field(description="An otpauth:// URI (show as QR code).")


@strawberry.type(description="Two-step sign-in is on; keep these one-time backup codes safe.")
class MfaConfirmation:
    backup_codes: list[str]


@strawberry.input
class CreateProfileInput:
    name: str
    avatar_url: str | None = None
    language: str | None = None
    kids: bool = False
    max_content_rating: str | None = None


@strawberry.input
class UpdateProfileInput:
    profile_id: strawberry.ID
    name: str | None = strawberry.UNSET
    avatar_url: str | None = strawberry.UNSET
    language: str | None = strawberry.UNSET
    kids: bool | None = strawberry.UNSET
    max_content_rating: str | None = strawberry.UNSET


@strawberry.type(description="An API key for server-to-server clients (the secret is not kept).")
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description="The first characters, to recognise the key.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKeyData) -> ApiKey:
        return cls(
            id=strawberry.ID(key.id),
            name=key.name,
            prefix=key.prefix,
            scopes=list(key.scopes),
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type(description="A new API key: the secret is shown this once.")
class CreatedApiKey:
    api_key: ApiKey
    secret: str


@strawberry.input
class CreateApiKeyInput:
    name: str
    scopes: list[str]
    expires_in_days: int | None = None


@strawberry.type(description="A device sign-in waiting for approval (RFC 8628).")
class DeviceAuthorization:
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int

    @classmethod
    def from_grant(cls, grant: DeviceGrant) -> DeviceAuthorization:
        return cls(
            device_code=grant.device_code,
            user_code=grant.user_code,
            verification_uri=grant.verification_uri,
            verification_uri_complete=grant.verification_uri_complete,
            expires_in=grant.expires_in,
            interval=grant.interval,
        )


@strawberry.enum(description="The kind of an OAuth client (RFC 6749 2.1).")
class OAuthClientKind(Enum):
    CONFIDENTIAL = strawberry.enum_value(
        "confidential",
        description="An app running on a server, which keeps a secret: it authenticates at "
        "the token endpoint (client_secret_basic or client_secret_post) and uses the "
        "authorization code flow with PKCE. Needs redirect URIs.",
    )
    PUBLIC = strawberry.enum_value(
        "public",
        description="A browser or mobile app, which cannot keep a secret: the authorization "
        "code flow with PKCE, no secret. Needs redirect URIs.",
    )
    DEVICE = strawberry.enum_value(
        "device",
        description="A TV, console or command line without a browser: the device "
        "authorization grant (RFC 8628), the member approves its code at /activate. Has no "
        "redirect URIs.",
    )


@strawberry.type(
    description="A third-party app: a confidential or public client of the authorization "
    "code flow, or a device client of the device authorization grant."
)
class OAuthClient:
    client_id: str
    name: str
    redirect_uris: list[str]
    kind: OAuthClientKind
    client_secret: str | None = strawberry.field(
        default=None,
        description="A confidential client's secret: only in the answer to "
        "registerOauthClient, never shown again.",
    )

    @classmethod
    def from_client(cls, client: OAuthClientData) -> OAuthClient:
        return cls(
            client_id=client.client_id,
            name=client.name,
            redirect_uris=list(client.redirect_uris),
            kind=OAuthClientKind(client.kind),
            client_secret=client.secret,
        )
