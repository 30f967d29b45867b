"""The recommendations subgraph's per-request context."""

from __future__ import annotations

from dataclasses import dataclass

from media_gateway.dataloaders.recommendations import RecommendationLoaders
from media_gateway.schema.context import RequestContext
from media_gateway.subgraphs.recommendations.service import RecommendationService


@dataclass
class RecommendationsContext(RequestContext):
    service: RecommendationService
    loaders: RecommendationLoaders
