"""The identity subgraph's services, one per sub-domain, built over one set of stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from media_gateway.auth.tokens import TokenService
from media_gateway.platform.settings import Settings
from media_gateway.storage.database import Database
from media_gateway.subgraphs.identity.accounts import AccountService
from media_gateway.subgraphs.identity.administration import AdministrationService
from media_gateway.subgraphs.identity.api_keys import ApiKeyService
from media_gateway.subgraphs.identity.common import IdentityStores, Limits
from media_gateway.subgraphs.identity.credentials import CredentialService
from media_gateway.subgraphs.identity.emails import IdentityEmails
from media_gateway.subgraphs.identity.mfa import MfaService
from media_gateway.subgraphs.identity.profiles import ProfileService
from media_gateway.subgraphs.identity.revocations import SessionEnds
from media_gateway.subgraphs.identity.sessions import SessionService
from media_gateway.subgraphs.identity.signin import SignInPolicy, SignInService


@dataclass
class IdentityServices:
    stores: IdentityStores
    emails: IdentityEmails
    accounts: AccountService
    profiles: ProfileService
    sessions: SessionService
    mfa: MfaService
    sign_in: SignInService
    credentials: CredentialService
    api_keys: ApiKeyService
    administration: AdministrationService

    @classmethod
    def create(
        cls,
        database: Database,
        settings: Settings,
        tokens: TokenService,
        limits: Limits | None = None,
        sign_in: SignInPolicy | None = None,
    ) -> IdentityServices:
        stores = IdentityStores(database, settings, limits)
        emails = IdentityEmails(stores)
        accounts = AccountService(stores, emails)
        ends = SessionEnds(stores)
        profiles = ProfileService(stores, ends)
        sessions = SessionService(stores, tokens, accounts, profiles, ends)
        mfa = MfaService(stores, accounts)
        return cls(
            stores=stores,
            emails=emails,
            accounts=accounts,
            profiles=profiles,
            sessions=sessions,
            mfa=mfa,
            sign_in=SignInService(stores, accounts, mfa, sessions, sign_in),
            credentials=CredentialService(stores, accounts, emails, profiles, sessions, ends),
            api_keys=ApiKeyService(stores),
            administration=AdministrationService(
                stores,
                accounts,
                emails,
                ends,
                deletion_grace=timedelta(days=settings.account_deletion_grace_days),
            ),
        )

    async def aclose(self) -> None:
        await self.emails.aclose()
        await self.stores.aclose()
