"""Recommendations subgraph: ``User.recommendations``, ``Content.similar``, ``trending``."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry
from strawberry.extensions import ParserCache, ValidationCache

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.dataloaders.recommendations import RecommendationLoaders
from media_gateway.platform.embeddings import make_embedder
from media_gateway.platform.events import PeriodicTask
from media_gateway.resolvers.recommendations import Mutation, Query
from media_gateway.schema.authorization import AuthorizationExtension
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.schema.recommendations import Content, User
from media_gateway.subgraphs.recommendations.context import RecommendationsContext
from media_gateway.subgraphs.recommendations.kafka import GROUP_ID, PlaybackEventConsumer
from media_gateway.subgraphs.recommendations.service import (
    RETRAIN_INTERVAL_SECONDS,
    RecommendationService,
)

NAME = "recommendations"
DEFAULT_PORT = 4003
PLAYBACK_TOPIC = "playback.events"


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
    service = RecommendationService(runtime.database, embedder=make_embedder(runtime.settings))
    runtime.events.subscribe(PLAYBACK_TOPIC, service.on_playback_event)

    async def context(headers: Mapping[str, str]) -> RecommendationsContext:
        return RecommendationsContext(
            **base_context(runtime, headers),
            service=service,
            loaders=RecommendationLoaders.create(service),
        )

    scheduled_runs: list[int] = []

    async def scheduled_retrain() -> None:
        if scheduled_runs:  # the first run is the start itself, already trained
            await service.retrain_if_changed()
            await service.prune_versions()
        scheduled_runs.append(1)

    retrain = PeriodicTask("recommendations-retrain", scheduled_retrain, RETRAIN_INTERVAL_SECONDS)
    consumers: list[PlaybackEventConsumer] = []

    async def startup() -> None:
        if runtime.settings.seed_demo_data:
            await service.seed_demo_interactions()
        await service.ensure_model()
        if runtime.settings.kafka_bootstrap_servers:
            consumer = PlaybackEventConsumer(
                runtime.settings.kafka_bootstrap_servers,
                PLAYBACK_TOPIC,
                service.on_playback_event,
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
        await service.close()

    return Subgraph(
        name=NAME,
        schema=build_schema(),
        context=context,
        runtime=runtime,
        default_port=DEFAULT_PORT,
        on_startup=[startup, start_schedule],
        on_shutdown=[shutdown],
        owns_runtime=owns_runtime,
        service=service,
    )
