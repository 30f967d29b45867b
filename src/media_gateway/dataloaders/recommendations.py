"""Recommendation loaders: similar titles for many titles at once (one model lookup), and
viewing profiles' watch histories (one query per batch, each read once per request)."""

from __future__ import annotations

from dataclasses import dataclass

from aiodataloader import DataLoader

from media_gateway.subgraphs.recommendations.feedback import History
from media_gateway.subgraphs.recommendations.selection import Scored
from media_gateway.subgraphs.recommendations.serving import ServingService


@dataclass
class RecommendationLoaders:
    similar: DataLoader[tuple[str, int], list[Scored]]
    history: DataLoader[tuple[str, str], History]  # by (account, profile)

    @classmethod
    def create(cls, service: ServingService) -> RecommendationLoaders:
        async def batch(keys: list[tuple[str, int]]) -> list[list[Scored]]:
            return await service.similar(keys)  # one freshness check for the whole batch

        async def histories(owners: list[tuple[str, str]]) -> list[History]:
            return await service.histories(owners)

        return cls(similar=DataLoader(batch), history=DataLoader(histories))
