"""Identity loaders: accounts by id, viewing profiles by account."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.dataloaders import grouped_loader, keyed_loader
from media_gateway.subgraphs.identity.accounts import Account, AccountService
from media_gateway.subgraphs.identity.profiles import Profile, ProfileService


@dataclass
class IdentityLoaders:
    users: DataLoader[str, Account | None]
    profiles: DataLoader[str, list[Profile]]

    @classmethod
    def create(cls, accounts: AccountService, profiles: ProfileService) -> IdentityLoaders:
        return cls(
            users=keyed_loader(accounts.accounts, lambda account: account.id),
            profiles=grouped_loader(profiles.profiles_of, lambda profile: profile.user_id),
        )
