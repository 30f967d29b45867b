"""Catalog loaders: titles, their genres, availability, children and credits, and people,
by id."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.dataloaders import grouped_loader, keyed_loader
from media_gateway.subgraphs.catalog.titles import TitleService
from media_gateway.subgraphs.catalog.values import Credit, Offer, Person, Title, TitleGenre


@dataclass
class CatalogLoaders:
    contents: DataLoader[str, Title | None]
    genres: DataLoader[str, list[TitleGenre]]
    availability: DataLoader[str, list[Offer]]
    children: DataLoader[str, list[Title]]
    credits: DataLoader[str, list[Credit]]
    people: DataLoader[str, Person | None]
    person_credits: DataLoader[str, list[Credit]]

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
