"""Recommendations subgraph: ``User.recommendations``, ``Content.similar``, ``trending``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.dataloaders.recommendations import RecommendationLoaders
from media_gateway.platform.embeddings import make_embedder
from media_gateway.platform.events import PeriodicTask
from media_gateway.platform.settings import Settings
from media_gateway.resolvers.recommendations import Mutation, Query
from media_gateway.schema.authorization import AuthorizationExtension
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.schema.recommendations import Content, RecommendationsContext, User
from media_gateway.storage.database import Database
from media_gateway.storage.erasure import AccountEvents
from media_gateway.subgraphs.catalog.demo import load_demo_catalog
from media_gateway.subgraphs.catalog.titles import TitleService
from media_gateway.subgraphs.recommendations.demo import seed_demo_interactions
from media_gateway.subgraphs.recommendations.experiments import ExperimentService
from media_gateway.subgraphs.recommendations.exposures import ExposureService
from media_gateway.subgraphs.recommendations.kafka import GROUP_ID, PlaybackEventConsumer
from media_gateway.subgraphs.recommendations.models import (
    ExposureRecord,
    InteractionRecord,
    OutcomeRecord,
)
from media_gateway.subgraphs.recommendations.rows import RowService
from media_gateway.subgraphs.recommendations.serving import ServingService
from media_gateway.subgraphs.recommendations.training import (
    RETRAIN_INTERVAL_SECONDS,
    TrainingService,
)

NAME = "recommendations"
DEFAULT_PORT = 4003
PLAYBACK_TOPIC = "playback.events"


@dataclass(frozen=True)
class RecommendationServices:
    """The recommender's services, wired to one another (``Subgraph.service``)."""

    training: TrainingService
    experiments: ExperimentService
    exposures: ExposureService
    serving: ServingService
    rows: RowService

    @classmethod
    def create(cls, database: Database, settings: Settings) -> RecommendationServices:
        # the catalog's titles reach the recommender's item features through here: the
        # recommender reads them from the catalog's storage, never the catalog's code
        training = TrainingService(
            database, embedder=make_embedder(settings), catalog=TitleService(database)
        )
        exposures = ExposureService(database)
        experiments = ExperimentService(database, training, exposures)
        serving = ServingService(database, training, experiments, exposures)
        return cls(training, experiments, exposures, serving, RowService(serving))

    async def close(self) -> None:
        await self.training.close()
        await self.exposures.close()


def build_schema() -> strawberry.federation.Schema:
    # The gateway sends the same few operations over and over: parse and validate each once.
    return schema_for(
        query=Query,
        mutation=Mutation,
        types=[User, Content],
        extensions=[
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            AuthorizationExtension,
        ],
    )


def create(runtime: Runtime | None = None) -> Subgraph:
    owns_runtime = runtime is None
    runtime = runtime or Runtime.create()
    # a deleted account's interactions, exposures and outcomes go with it
    accounts = AccountEvents(
        runtime.database,
        [InteractionRecord, ExposureRecord, OutcomeRecord],
        NAME,
        subscribe=runtime.events.subscribe,
        kafka_bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
        alone=owns_runtime,
    )
    services = RecommendationServices.create(runtime.database, runtime.settings)
    training, exposures = services.training, services.exposures
    runtime.events.subscribe(PLAYBACK_TOPIC, exposures.on_playback_event)

    async def context(headers: Mapping[str, str]) -> RecommendationsContext:
        return RecommendationsContext(
            **base_context(runtime, headers),
            serving=services.serving,
            rows=services.rows,
            experiments=services.experiments,
            exposures=exposures,
            loaders=RecommendationLoaders.create(services.serving),
        )

    scheduled_runs: list[int] = []

    async def scheduled_retrain() -> None:
        if scheduled_runs:  # the first run is the start itself, already trained
            await training.retrain_if_changed()
            await training.prune_versions()
        scheduled_runs.append(1)

    retrain = PeriodicTask("recommendations-retrain", scheduled_retrain, RETRAIN_INTERVAL_SECONDS)
    consumers: list[PlaybackEventConsumer] = []

    async def startup() -> None:
        if runtime.settings.seed_demo_data:
            await seed_demo_interactions(runtime.database, load_demo_catalog().titles)
        await training.ensure_model()
        if runtime.settings.kafka_bootstrap_servers:
            consumer = PlaybackEventConsumer(
                runtime.settings.kafka_bootstrap_servers,
                PLAYBACK_TOPIC,
                exposures.on_playback_event,
                lag=runtime.metrics.consumer(GROUP_ID),
            )
            await consumer.start()
            consumers.append(consumer)

    async def start_schedule() -> None:
        retrain.start()

    async def shutdown() -> None:
        await retrain.stop()
        while consumers:
            await consumers.pop().stop()
        await services.close()

    return Subgraph(
        name=NAME,
        schema=build_schema(),
        context=context,
        runtime=runtime,
        default_port=DEFAULT_PORT,
        on_startup=[startup, start_schedule, accounts.startup],
        on_shutdown=[accounts.shutdown, shutdown],
        owns_runtime=owns_runtime,
        service=services,
    )
