"""Social sign-in: a member signs in with an outside provider (``oidc``), and the product
decides which account that is.

- An identity already linked signs in to its account (with the authenticator code first
  when the account has two-step sign-in on).
- Otherwise the provider must vouch for the email (``email_verified``): an unverified or
  missing email is refused, never used to find or create an account.
- A verified email of no account creates one (no password; the email counts as verified).
- A verified email of an existing account is never linked silently: the member confirms on
  a page, proving the account is theirs with its password (and code) when it has one.
- A member unlinks a provider, unless it is the last way left to sign in.

The flow's secrets (``state``, ``nonce``, the PKCE verifier) wait in the short-lived code
store under a random browser binding (a cookie of the page), so a callback is accepted only
in the browser that started it, once, within ``FLOW_TTL_SECONDS``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from media_gateway.storage.audit import record_audit
from media_gateway.storage.types import as_utc, new_id, utcnow
from media_gateway.subgraphs.identity.accounts import Account, AccountService
from media_gateway.subgraphs.identity.codes import code_key
from media_gateway.subgraphs.identity.common import IdentityError, IdentityStores
from media_gateway.subgraphs.identity.mfa import MfaService
from media_gateway.subgraphs.identity.models import SocialIdentityRecord, UserRecord
from media_gateway.subgraphs.identity.oidc import (
    ExternalIdentity,
    ProviderClient,
    SocialProvider,
    SocialSignInError,
    providers_from_config,
)
from media_gateway.subgraphs.identity.services import IdentityServices
from media_gateway.subgraphs.identity.sessions import Session, SessionService
from media_gateway.subgraphs.identity.signin import SignInService

FLOW_TTL_SECONDS = 600
PENDING_TTL_SECONDS = 900
MAX_PARAMETER = 4096


@dataclass(frozen=True)
class StartedFlow:
    """Where to send the browser, and the binding its cookie must hold on the way back."""

    url: str
    binding: str


@dataclass(frozen=True)
class Finished:
    """A callback's result: a session (signed in), or a confirmation still to give
    (``pending``: the key of ``PendingConfirmation``)."""

    next_path: str
    session: Session | None = None
    pending: str | None = None


@dataclass(frozen=True)
class PendingConfirmation:
    """What the confirmation page asks: link ``provider`` to the account (``kind`` "link"),
    or the authenticator code of an account already linked (``kind`` "mfa")."""

    kind: str
    provider: str
    provider_name: str
    email: str
    has_password: bool
    mfa: bool


@dataclass(frozen=True)
class LinkedSignIn:
    user_id: str
    provider: str
    provider_name: str
    email: str | None
    linked_at: datetime
    last_used_at: datetime | None


class SocialSignInService:
    def __init__(
        self,
        stores: IdentityStores,
        accounts: AccountService,
        sign_in: SignInService,
        mfa: MfaService,
        sessions: SessionService,
        client: ProviderClient,
    ) -> None:
        self.stores = stores
        self.accounts = accounts
        self.sign_in = sign_in
        self.mfa = mfa
        self.sessions = sessions
        self.client = client

    @classmethod
    def create(
        cls, services: IdentityServices, providers: Mapping[str, SocialProvider] | None = None
    ) -> SocialSignInService:
        """Over ``providers``, by default the configured ones (``ProviderConfigError`` says
        what is wrong with the configuration)."""
        if providers is None:
            providers = providers_from_config(services.stores.settings.social_sign_in)
        return cls(
            services.stores,
            services.accounts,
            services.sign_in,
            services.mfa,
            services.sessions,
            ProviderClient(providers),
        )

    @property
    def providers(self) -> list[tuple[str, str]]:
        """The configured providers: (name, display name)."""
        return [(p.name, p.display_name) for p in self.client.providers.values()]

    def provider_name(self, name: str) -> str:
        provider = self.client.providers.get(name)
        return provider.display_name if provider else name

    async def aclose(self) -> None:
        await self.client.aclose()

    # -- the flow ------------------------------------------------------------------------
    async def start(self, provider_name: str, redirect_uri: str, next_path: str) -> StartedFlow:
        provider = self.client.provider(provider_name)
        binding = secrets.token_urlsafe(32)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters of the PKCE alphabet
        url = await self.client.authorization_request(
            provider, redirect_uri, state, nonce, verifier
        )
        await self.stores.codes.put(
            code_key("social-flow", binding),
            {
                "provider": provider.name,
                "state": state,
                "nonce": nonce,
                "verifier": verifier,
                "redirect_uri": redirect_uri,
                "next": next_path,
            },
            FLOW_TTL_SECONDS,
        )
        return StartedFlow(url, binding)

    async def finish(
        self,
        provider_name: str,
        binding: str | None,
        params: Mapping[str, str],
        client_address: str | None = None,
    ) -> Finished:
        """The provider's answer to the flow this browser started (``binding``, its cookie):
        state checked, the code exchanged, the identity validated and resolved."""
        provider = self.client.provider(provider_name)
        flow = None
        if binding and len(binding) <= 100:
            flow = await self.stores.codes.take(code_key("social-flow", binding))
        if flow is None:
            raise SocialSignInError(
                "expired",
                "This sign-in has expired or was started in another browser; start again.",
            )
        state = params.get("state", "")
        if (
            flow.get("provider") != provider.name
            or not state
            or len(state) > MAX_PARAMETER
            or not hmac.compare_digest(state.encode(), str(flow["state"]).encode())
        ):
            raise SocialSignInError(
                "state_mismatch",
                "This answer does not belong to the sign-in this browser started; start again.",
            )
        error = params.get("error")
        if error:
            if error == "access_denied":
                message = f"Signing in with {provider.display_name} was cancelled."
            else:
                message = (
                    f"{provider.display_name} could not sign you in ({error[:60]}); "
                    "try again or use another way to sign in."
                )
            raise SocialSignInError("provider_error", message)
        code = params.get("code", "")
        if not code or len(code) > MAX_PARAMETER:
            raise SocialSignInError(
                "provider_error", f"{provider.display_name} sent no authorization code."
            )
        identity = await self.client.identity(
            provider, code, str(flow["redirect_uri"]), str(flow["verifier"]), str(flow["nonce"])
        )
        return await self._resolve(identity, str(flow.get("next") or "/"), client_address)

    async def _resolve(
        self, identity: ExternalIdentity, next_path: str, client_address: str | None
    ) -> Finished:
        linked = await self._linked_record(identity.provider, identity.subject)
        if linked is not None:
            user = await self.accounts.record(linked.user_id)
            if user.totp_secret:
                return await self._pending("mfa", user, identity, next_path)
            await self._touch(linked.id)
            return Finished(
                next_path, session=await self._session(user, identity.provider, client_address)
            )
        if not identity.email or not identity.email_verified:
            raise SocialSignInError(
                "unverified_email",
                f"Your {self.provider_name(identity.provider)} account has no verified email "
                "address. Verify your email there, or sign in another way.",
            )
        existing = await self.accounts.record_by_email(identity.email)
        if existing is not None:
            return await self._pending("link", existing, identity, next_path)
        user = UserRecord(
            id=new_id(),
            email=identity.email,
            display_name=(identity.name or identity.email.split("@")[0])[:120],
            password_hash="",  # no password: this provider is the way to sign in
            email_verified_at=utcnow(),
        )
        try:
            async with self.stores.database.transaction() as session:
                session.add(user)
                await session.flush()
                session.add(self._record(user.id, identity))
                await self._audit_link(session, user.id, identity, "auth.social_account")
        except IntegrityError:
            # the email got an account meanwhile (or this identity a link): ask, never merge
            existing = await self.accounts.record_by_email(identity.email)
            if existing is None:
                raise
            return await self._pending("link", existing, identity, next_path)
        return Finished(
            next_path, session=await self._session(user, identity.provider, client_address)
        )

    # -- confirming a link (or the second factor) ----------------------------------------
    async def _pending(
        self, kind: str, user: UserRecord, identity: ExternalIdentity, next_path: str
    ) -> Finished:
        token = secrets.token_urlsafe(32)
        await self.stores.codes.put(
            code_key("social-pending", token),
            {
                "kind": kind,
                "user_id": user.id,
                "provider": identity.provider,
                "subject": identity.subject,
                "email": identity.email,
                "next": next_path,
            },
            PENDING_TTL_SECONDS,
        )
        return Finished(next_path, pending=token)

    async def _pending_value(self, token: str | None) -> dict[str, Any]:
        value = None
        if token and len(token) <= 100:
            value = await self.stores.codes.get(code_key("social-pending", token))
        if value is None:
            raise SocialSignInError(
                "expired", "This confirmation has expired; sign in again to continue."
            )
        return value

    async def pending(self, token: str | None) -> PendingConfirmation:
        value = await self._pending_value(token)
        user = await self.accounts.record(str(value["user_id"]))
        return PendingConfirmation(
            kind=str(value["kind"]),
            provider=str(value["provider"]),
            provider_name=self.provider_name(str(value["provider"])),
            email=user.email,
            has_password=bool(user.password_hash),
            mfa=user.totp_secret is not None,
        )

    async def cancel(self, token: str | None) -> None:
        if token and len(token) <= 100:
            await self.stores.codes.take(code_key("social-pending", token))

    async def confirm(
        self,
        token: str | None,
        *,
        password: str | None,
        totp_code: str | None,
        client_address: str | None = None,
    ) -> Finished:
        """Complete a pending confirmation: with the account's password (and code) when it
        has one, under the sign-in abuse policy; else with the code when two-step sign-in is
        on. ``IdentityError`` for a wrong answer (the confirmation stays pending)."""
        value = await self._pending_value(token)
        user = await self.accounts.record(str(value["user_id"]))
        identity = ExternalIdentity(
            provider=str(value["provider"]),
            subject=str(value["subject"]),
            email=value.get("email"),
            email_verified=True,
            name=None,
        )
        if value["kind"] == "link" and user.password_hash:
            if not password:
                raise IdentityError("Enter the password of this account.", field="password")
            session = await self.sign_in.login(
                user.email, password, totp_code, client_address=client_address
            )
        else:
            if user.totp_secret:
                await self._check_code(user, totp_code)
            session = await self._session(user, identity.provider, client_address)
        if await self.stores.codes.take(code_key("social-pending", str(token))) is None:
            raise SocialSignInError(
                "expired", "This confirmation was already used; sign in again to continue."
            )
        if value["kind"] == "link":
            await self._link(user.id, identity)
        else:
            linked = await self._linked_record(identity.provider, identity.subject)
            if linked is None or linked.user_id != user.id:
                raise SocialSignInError(
                    "not_linked", "This sign-in is no longer linked; sign in again."
                )
            await self._touch(linked.id)
        return Finished(str(value.get("next") or "/"), session=session)

    async def _check_code(self, user: UserRecord, code: str | None) -> None:
        if not code:
            raise IdentityError(
                "Enter the code from your authenticator app.", "MFA_REQUIRED", "totpCode"
            )
        await self.stores.limit("social-mfa", user.id, self.stores.limits.mfa_per_account)
        if not await self.mfa.check_second_factor(user, code.strip()):
            raise IdentityError(
                "That code is wrong or was already used; wait for the next one.",
                "UNAUTHENTICATED",
                "totpCode",
            )

    async def _link(self, user_id: str, identity: ExternalIdentity) -> None:
        try:
            async with self.stores.database.transaction() as session:
                session.add(self._record(user_id, identity))
                await self._audit_link(session, user_id, identity, "auth.social_link")
        except IntegrityError as exc:
            linked = await self._linked_record(identity.provider, identity.subject)
            if linked is None or linked.user_id != user_id:
                raise SocialSignInError(
                    "not_linked",
                    f"This {self.provider_name(identity.provider)} account is linked to "
                    "another account.",
                ) from exc

    # -- linked sign-ins of a member -----------------------------------------------------
    async def linked(self, user_id: str) -> list[LinkedSignIn]:
        async with self.stores.database.session() as session:
            result = await session.exec(
                select(SocialIdentityRecord)
                .where(SocialIdentityRecord.user_id == user_id)
                .order_by(col(SocialIdentityRecord.created_at))
            )
            return [self._linked_sign_in(record) for record in result.all()]

    async def linked_of(self, user_ids: Sequence[str]) -> list[LinkedSignIn]:
        """The linked sign-ins of several members at once (for a dataloader)."""
        async with self.stores.database.session() as session:
            result = await session.exec(
                select(SocialIdentityRecord)
                .where(col(SocialIdentityRecord.user_id).in_(list(user_ids)))
                .order_by(col(SocialIdentityRecord.created_at))
            )
            return [self._linked_sign_in(record) for record in result.all()]

    async def unlink(self, user_id: str, provider: str) -> list[LinkedSignIn]:
        """Remove the member's sign-in with ``provider``; refused when it is the last way
        left to sign in (no password, no other provider). The remaining linked sign-ins."""
        async with self.stores.database.transaction() as session:
            # the account's row, locked: two unlinks at once cannot both leave none
            user = (
                await session.exec(
                    select(UserRecord).where(UserRecord.id == user_id).with_for_update()
                )
            ).first()
            if user is None:
                raise IdentityError("This account no longer exists.", "UNAUTHENTICATED")
            records = list(
                (
                    await session.exec(
                        select(SocialIdentityRecord).where(SocialIdentityRecord.user_id == user_id)
                    )
                ).all()
            )
            target = [record for record in records if record.provider == provider]
            if not target:
                raise IdentityError(
                    "No sign-in with this provider is linked to your account.",
                    "NOT_FOUND",
                    "provider",
                )
            if not user.password_hash and len(records) == len(target):
                raise IdentityError(
                    f"{self.provider_name(provider)} is the only way to sign in to your "
                    "account: set a password (Forgot your password? on the sign-in page) or "
                    "link another provider first.",
                    "BAD_USER_INPUT",
                    "provider",
                    reason="LAST_SIGN_IN",
                )
            for record in target:
                await session.delete(record)
            await record_audit(
                session,
                actor_id=user_id,
                action="auth.social_unlink",
                target_type="account",
                target_id=user_id,
                before={"provider": provider, "subject": target[0].subject},
            )
        return await self.linked(user_id)

    # -- helpers -------------------------------------------------------------------------
    async def _session(
        self, user: UserRecord, provider: str, client_address: str | None = None
    ) -> Session:
        try:
            return await self.sessions.new_session(
                Account.of(user),
                family_id=new_id(),
                audit="auth.sign_in",
                audit_detail={
                    "address": client_address,
                    "provider": provider,
                    "mfa": bool(user.totp_secret),
                },
            )
        except IdentityError as exc:  # a locked account
            raise SocialSignInError(exc.code.lower(), str(exc), 403) from exc

    async def _linked_record(self, provider: str, subject: str) -> SocialIdentityRecord | None:
        async with self.stores.database.session() as session:
            result = await session.exec(
                select(SocialIdentityRecord).where(
                    SocialIdentityRecord.provider == provider,
                    SocialIdentityRecord.subject == subject,
                )
            )
            return result.first()

    async def _touch(self, record_id: str) -> None:
        async with self.stores.database.transaction() as session:
            record = await session.get(SocialIdentityRecord, record_id)
            if record is not None:
                record.last_used_at = utcnow()
                session.add(record)

    @staticmethod
    async def _audit_link(
        session: Any, user_id: str, identity: ExternalIdentity, action: str
    ) -> None:
        """``auth.social_account`` (an account made by a first social sign-in) or
        ``auth.social_link`` (a provider linked to an existing account, confirmed)."""
        await record_audit(
            session,
            actor_id=user_id,
            action=action,
            target_type="account",
            target_id=user_id,
            after={
                "provider": identity.provider,
                "subject": identity.subject,
                "email": identity.email,
            },
        )

    @staticmethod
    def _record(user_id: str, identity: ExternalIdentity) -> SocialIdentityRecord:
        return SocialIdentityRecord(
            user_id=user_id,
            provider=identity.provider,
            subject=identity.subject,
            email=identity.email,
        )

    def _linked_sign_in(self, record: SocialIdentityRecord) -> LinkedSignIn:
        return LinkedSignIn(
            user_id=record.user_id,
            provider=record.provider,
            provider_name=self.provider_name(record.provider),
            email=record.email,
            linked_at=as_utc(record.created_at),
            last_used_at=as_utc(record.last_used_at) if record.last_used_at else None,
        )
