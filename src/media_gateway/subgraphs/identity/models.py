"""Identity storage: accounts, viewing profiles, sessions, MFA, API keys, OAuth clients,
short-lived codes (when Redis is not configured) and the email outbox."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from media_gateway.storage.types import new_id, timestamp_field


class UserRecord(SQLModel, table=True):
    __tablename__ = "identity_users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    email: str = Field(max_length=320, unique=True, index=True)
    display_name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    # the confirmed TOTP secret (MFA on); the one being enrolled waits in totp_pending_secret
    totp_secret: str | None = Field(default=None, max_length=64)
    created_at: datetime = timestamp_field()
    email_verified_at: datetime | None = timestamp_field(nullable=True)
    totp_pending_secret: str | None = Field(default=None, max_length=64)
    # the last TOTP time step accepted (a code is never accepted twice)
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    password_changed_at: datetime | None = timestamp_field(nullable=True)
    # the operator role an admin assigned (media_gateway.auth.scopes.ROLES)
    role: str = Field(
        default="member", max_length=20, sa_column_kwargs={"server_default": "member"}
    )
    # locked by an operator: no sign-in, no refresh until unlocked
    locked_at: datetime | None = timestamp_field(nullable=True)
    # deletion requested: the account and its data are deleted at this time unless cancelled
    deletion_due_at: datetime | None = timestamp_field(nullable=True, index=True)


class RefreshTokenRecord(SQLModel, table=True):
    """An opaque refresh token, stored only as its SHA-256 digest."""

    __tablename__ = "identity_refresh_tokens"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    family_id: str = Field(max_length=64, index=True)
    user_id: str = Field(foreign_key="identity_users.id", index=True, max_length=64)
    created_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field()
    used_at: datetime | None = timestamp_field(nullable=True)
    revoked_at: datetime | None = timestamp_field(nullable=True)
    profile_id: str | None = Field(default=None, max_length=64)
    # delegated sessions (OAuth clients) hold only these scopes; None = a member's own session
    scopes: str | None = Field(default=None, max_length=1000)
    client_id: str | None = Field(default=None, max_length=100)
    # the resources (RFC 8707) the session's access tokens are bound to, space-separated
    resources: str | None = Field(default=None, max_length=1000)


class ProfileRecord(SQLModel, table=True):
    """A viewing profile of an account, with its parental controls."""

    __tablename__ = "identity_profiles"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="identity_users.id", index=True, max_length=64)
    name: str = Field(max_length=60)
    avatar_url: str | None = Field(default=None, max_length=500)
    language: str = Field(default="en", max_length=35)
    kids: bool = Field(default=False)
    max_content_rating: str | None = Field(default=None, max_length=10)
    created_at: datetime = timestamp_field()


class BackupCodeRecord(SQLModel, table=True):
    """A one-time MFA backup code, stored as its argon2id hash."""

    __tablename__ = "identity_backup_codes"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="identity_users.id", index=True, max_length=64)
    code_hash: str = Field(max_length=255)
    used_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()


class ApiKeyRecord(SQLModel, table=True):
    """A server-to-server key: only its SHA-256 digest is kept."""

    __tablename__ = "identity_api_keys"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="identity_users.id", index=True, max_length=64)
    name: str = Field(max_length=100)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=20)
    scopes: str = Field(max_length=1000)
    created_at: datetime = timestamp_field()
    expires_at: datetime | None = timestamp_field(nullable=True)
    revoked_at: datetime | None = timestamp_field(nullable=True)


class OAuthClientRecord(SQLModel, table=True):
    """A third-party client (confidential, public or device) and its exact redirect URIs; a
    client that registered itself (RFC 7591) has no owner."""

    __tablename__ = "identity_oauth_clients"

    id: str = Field(primary_key=True, max_length=100)
    name: str = Field(max_length=100)
    owner_id: str | None = Field(
        default=None, foreign_key="identity_users.id", index=True, max_length=64
    )
    redirect_uris: str = Field(max_length=4000)  # one per line; none for a device client
    # confidential, public or device (see oauth.CLIENT_KINDS)
    kind: str = Field(default="public", max_length=20)
    # a confidential client's secret, as its SHA-256
    secret_hash: str | None = Field(default=None, max_length=128)
    created_at: datetime = timestamp_field()


class ShortCodeRecord(SQLModel, table=True):
    """A short-lived code (device grant, authorization code, email token) when there is no
    Redis; ``key`` is a digest, never the code itself."""

    __tablename__ = "identity_short_codes"

    key: str = Field(primary_key=True, max_length=200)
    value: str = Field(sa_type=sa.Text)
    expires_at: datetime = timestamp_field(index=True)


class EmailOutboxRecord(SQLModel, table=True):
    """An email to send (console in embedded mode, SMTP when ``SMTP_URL`` is set)."""

    __tablename__ = "identity_email_outbox"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    recipient: str = Field(max_length=320, index=True)
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=200)
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = timestamp_field()
    sent_at: datetime | None = timestamp_field(nullable=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)


class SessionRevocationRecord(SQLModel, table=True):
    """A session (the ``sid`` of its access tokens) ended before its tokens expire: signed
    out, signed out everywhere, password changed or reset, refresh token reused.

    Every service reads these rows in ``seq`` order (see ``media_gateway.auth.revocation``); a row
    matters only until ``expires_at`` (Unix seconds), when every access token it could
    refuse has expired anyway."""

    __tablename__ = "identity_session_revocations"

    seq: int = Field(
        primary_key=True, sa_type=sa.BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    session_id: str = Field(max_length=64, index=True)
    user_id: str = Field(max_length=64)
    revoked_at: datetime = timestamp_field()
    expires_at: int = Field(sa_type=sa.BigInteger, index=True)


class RevocationSequenceRecord(SQLModel, table=True):
    """The last revocation number handed out: a writer takes the next ones by updating this
    row, whose lock it holds until it commits, so numbers commit in order."""

    __tablename__ = "identity_revocation_sequence"

    name: str = Field(primary_key=True, max_length=40)
    last_seq: int = Field(default=0, sa_type=sa.BigInteger)


class SocialIdentityRecord(SQLModel, table=True):
    """An account's sign-in at an outside provider (OpenID Connect, or GitHub's OAuth): the
    provider's stable subject for the member, never its tokens."""

    __tablename__ = "identity_social_identities"
    __table_args__ = (
        sa.UniqueConstraint("provider", "subject", name="uq_identity_social_provider_subject"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="identity_users.id", index=True, max_length=64)
    provider: str = Field(max_length=40)
    subject: str = Field(max_length=255)
    # the verified email the provider vouched for when the identity was linked
    email: str | None = Field(default=None, max_length=320)
    created_at: datetime = timestamp_field()
    last_used_at: datetime | None = timestamp_field(nullable=True)
