"""Catalog loaders: titles, their genres, availability, children and credits, and people,
by id."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.dataloaders import grouped_loader, keyed_loader
from media_gateway.subgraphs.catalog.models import (
    AvailabilityRecord,
    ContentGenreRecord,
    ContentRecord,
    CreditRecord,
    PersonRecord,
)
from media_gateway.subgraphs.catalog.titles import TitleService


@dataclass
class CatalogLoaders:
    contents: DataLoader[str, ContentRecord | None]
    genres: DataLoader[str, list[ContentGenreRecord]]
    availability: DataLoader[str, list[AvailabilityRecord]]
    children: DataLoader[str, list[ContentRecord]]
    credits: DataLoader[str, list[CreditRecord]]
    people: DataLoader[str, PersonRecord | None]
    person_credits: DataLoader[str, list[CreditRecord]]

    @classmethod
    def create(cls, service: TitleService) -> CatalogLoaders:
        return cls(
            contents=keyed_loader(service.contents_by_ids, lambda r: r.id),
            genres=grouped_loader(service.genres_by_content_ids, lambda r: r.content_id),
            availability=grouped_loader(
                service.availability_by_content_ids, lambda r: r.content_id
            ),
            children=grouped_loader(service.children_by_parent_ids, lambda r: r.parent_id or ""),
            credits=grouped_loader(service.credits_by_content_ids, lambda r: r.content_id),
            people=keyed_loader(service.people_by_ids, lambda r: r.id),
            person_credits=grouped_loader(service.credits_by_person_ids, lambda r: r.person_id),
        )
