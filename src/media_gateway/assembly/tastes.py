"""A viewer's tastes for the catalog's personalised search, from the recommender.

The catalog asks for a ``ViewerTastes`` (``media_gateway.subgraphs.catalog.search.personal``);
this fills it with the recommender's affinity: its newest stored model scores the viewing
profile's graded history, and each title's affinity is its percentile among all titles. The
recommender's data is read from its storage, never through its GraphQL; where that storage
is not reachable from the catalog's process the call raises and search is not personalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from media_gateway.storage.database import Database
from media_gateway.subgraphs.recommendations.experiments import ExperimentService
from media_gateway.subgraphs.recommendations.exposures import ExposureService
from media_gateway.subgraphs.recommendations.serving import ServingService
from media_gateway.subgraphs.recommendations.training import TrainingService


class RecommenderTastes:
    """``ViewerTastes`` answered by the recommender's model (loaded from storage, never
    trained here)."""

    def __init__(self, database: Database) -> None:
        self.training = TrainingService(database)
        exposures = ExposureService(database)
        self.serving = ServingService(
            database,
            self.training,
            ExperimentService(database, self.training, exposures),
            exposures,
        )

    async def affinity(
        self, viewer_id: str, profile_id: str, content_ids: Sequence[str]
    ) -> Mapping[str, float]:
        ranker = await self.training.model()
        history = await self.serving.history(viewer_id, profile_id=profile_id)
        if ranker.size == 0 or not any(c in ranker.index for c in history.titles):
            return {}  # nothing known of this profile's tastes yet
        scores, _parts = ranker.score(history.titles, feedback=history.grades)
        wanted = [c for c in content_ids if c in ranker.index]
        if not wanted:
            return {}
        ranked = np.sort(scores)
        mine = scores[[ranker.index[c] for c in wanted]]
        percentile = np.searchsorted(ranked, mine, side="left") / max(len(ranked) - 1, 1)
        return {c: float(p) for c, p in zip(wanted, percentile, strict=True)}

    async def close(self) -> None:
        await self.training.close()
