"""Identity loaders: accounts by id, viewing profiles and linked sign-ins by account."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.dataloaders import grouped_loader, keyed_loader
from media_gateway.subgraphs.identity.accounts import Account, AccountService
from media_gateway.subgraphs.identity.profiles import Profile, ProfileService
from media_gateway.subgraphs.identity.social import LinkedSignIn, SocialSignInService


@dataclass
class IdentityLoaders:
    users: DataLoader[str, Account | None]
    profiles: DataLoader[str, list[Profile]]
    linked_sign_ins: DataLoader[str, list[LinkedSignIn]]

    @classmethod
    def create(
        cls, accounts: AccountService, profiles: ProfileService, social: SocialSignInService
    ) -> IdentityLoaders:
        return cls(
            users=keyed_loader(accounts.accounts, lambda account: account.id),
            profiles=grouped_loader(profiles.profiles_of, lambda profile: profile.user_id),
            linked_sign_ins=grouped_loader(social.linked_of, lambda linked: linked.user_id),
        )
