"""Identity loaders: users by id, viewing profiles by account."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.dataloaders import grouped_loader, keyed_loader
from media_gateway.subgraphs.identity.models import ProfileRecord, UserRecord
from media_gateway.subgraphs.identity.service import IdentityService


@dataclass
class IdentityLoaders:
    users: DataLoader[str, UserRecord | None]
    profiles: DataLoader[str, list[ProfileRecord]]

    @classmethod
    def create(cls, service: IdentityService) -> IdentityLoaders:
        return cls(
            users=keyed_loader(service.users_by_ids, lambda user: user.id),
            profiles=grouped_loader(service.profiles_by_user_ids, lambda profile: profile.user_id),
        )
