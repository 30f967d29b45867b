"""Viewing profiles of an account, with their parental controls: a language, a highest
content rating, and kids profiles (at most PG, locked behind the account password)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from media_gateway.platform import ratings
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.identity.common import IdentityError, IdentityStores
from media_gateway.subgraphs.identity.models import ProfileRecord
from media_gateway.subgraphs.identity.revocations import SessionEnds

MAX_PROFILES = 6
KIDS_MAX_RATING = "PG"


@dataclass(frozen=True)
class Profile:
    id: str
    user_id: str
    name: str
    avatar_url: str | None
    language: str
    kids: bool
    max_content_rating: str | None
    created_at: datetime

    @classmethod
    def of(cls, record: ProfileRecord) -> Profile:
        return cls(
            id=record.id,
            user_id=record.user_id,
            name=record.name,
            avatar_url=record.avatar_url,
            language=record.language,
            kids=record.kids,
            max_content_rating=record.max_content_rating,
            created_at=as_utc(record.created_at),
        )


def normalize_rating(rating: str | None) -> str | None:
    """A rating on the G..NC-17 scale (TV ratings accepted and mapped), or an error."""
    if rating is None:
        return None
    known = ratings.normalize(rating)
    if known is None:
        raise IdentityError(
            "Use a rating among G, PG, PG-13, R, NC-17 (or a TV rating).",
            field="maxContentRating",
        )
    return ratings.SCALE[ratings.rank(known)]


class ProfileService:
    def __init__(self, stores: IdentityStores, ends: SessionEnds) -> None:
        self.stores = stores
        self.ends = ends

    async def profiles_of(self, user_ids: Sequence[str]) -> list[Profile]:
        """The profiles of these accounts, oldest first."""
        async with self.stores.database.session() as session:
            result = await session.exec(
                select(ProfileRecord)
                .where(col(ProfileRecord.user_id).in_(user_ids))
                .order_by(col(ProfileRecord.created_at), col(ProfileRecord.id))
            )
            return [Profile.of(record) for record in result.all()]

    async def profile_of(self, user_id: str, profile_id: str) -> Profile | None:
        async with self.stores.database.session() as session:
            profile = await session.get(ProfileRecord, profile_id)
        return Profile.of(profile) if profile is not None and profile.user_id == user_id else None

    async def create(
        self,
        user_id: str,
        *,
        name: str,
        avatar_url: str | None,
        language: str | None,
        kids: bool,
        max_content_rating: str | None,
    ) -> Profile:
        existing = await self.profiles_of([user_id])
        if len(existing) >= MAX_PROFILES:
            raise IdentityError(f"An account has at most {MAX_PROFILES} profiles.")
        profile = ProfileRecord(user_id=user_id, name="", language="en")
        _apply(profile, name, avatar_url, language, kids, max_content_rating)
        async with self.stores.database.transaction() as session:
            session.add(profile)
        return Profile.of(profile)

    async def update(self, user_id: str, profile_id: str, changes: dict[str, Any]) -> Profile:
        async with self.stores.database.transaction() as session:
            profile = await session.get(ProfileRecord, profile_id)
            if profile is None or profile.user_id != user_id:
                raise IdentityError("No such profile.", "NOT_FOUND", "profileId")
            _apply(
                profile,
                changes.get("name", profile.name),
                changes.get("avatar_url", profile.avatar_url),
                changes.get("language", profile.language),
                changes.get("kids", profile.kids),
                changes.get("max_content_rating", profile.max_content_rating),
            )
            session.add(profile)
        return Profile.of(profile)

    async def delete(self, user_id: str, profile_id: str) -> bool:
        """Remove a profile; the sessions on it end."""
        async with self.stores.database.transaction() as session:
            profile = await session.get(ProfileRecord, profile_id)
            if profile is None or profile.user_id != user_id:
                return False
            await session.delete(profile)
            ended = await self.ends.end_profile_sessions(session, user_id, profile_id, utcnow())
        await self.ends.announce(ended)
        return True


def _apply(
    profile: ProfileRecord,
    name: str,
    avatar_url: str | None,
    language: str | None,
    kids: bool,
    max_content_rating: str | None,
) -> None:
    name = name.strip()
    if not 1 <= len(name) <= 60:
        raise IdentityError("Name the profile (1 to 60 characters).", field="name")
    if avatar_url is not None and (
        len(avatar_url) > 500 or not avatar_url.startswith(("https://", "/"))
    ):
        raise IdentityError("Use an https:// or relative avatar URL.", field="avatarUrl")
    language = (language or "en").strip()
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", language):
        raise IdentityError("Use a language tag such as en or pt-BR.", field="language")
    rating = normalize_rating(max_content_rating)
    if kids:  # a kids profile always has a maximum, and never above KIDS_MAX_RATING
        if rating is None:
            rating = KIDS_MAX_RATING
        elif ratings.rank(rating) > ratings.rank(KIDS_MAX_RATING):
            raise IdentityError(
                f"A kids profile allows at most {KIDS_MAX_RATING}.", field="maxContentRating"
            )
    profile.name = name
    profile.avatar_url = avatar_url
    profile.language = language
    profile.kids = kids
    profile.max_content_rating = rating
