"""The catalog subgraph's per-request context."""

from __future__ import annotations

from dataclasses import dataclass

from media_gateway.dataloaders.catalog import CatalogLoaders
from media_gateway.platform import ratings
from media_gateway.schema.context import RequestContext
from media_gateway.subgraphs.catalog.service import CatalogService


@dataclass
class CatalogContext(RequestContext):
    service: CatalogService
    loaders: CatalogLoaders

    @property
    def max_content_rating(self) -> str | None:
        """The active profile's maximum content rating (parental controls), if any."""
        viewer = self.viewer
        if viewer is None:
            return None
        value = getattr(viewer, "max_content_rating", None)
        if value is None and viewer.raw:
            value = viewer.raw.get("max_content_rating")
        return str(value) if value else None

    def may_see(self, content_rating: str | None) -> bool:
        return ratings.allowed(content_rating, self.max_content_rating)
