"""Playback subgraph: sessions, resume points, continue-watching and watch history."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.auth import AuthorizationExtension
from media_gateway.dataloaders.playback import PlaybackLoaders
from media_gateway.realtime import realtime_for
from media_gateway.resolvers.playback import Mutation, Query, Subscription
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.schema.playback import Content, User
from media_gateway.subgraphs.events import PeriodicTask, outbox_pruning
from media_gateway.subgraphs.playback.context import PlaybackContext
from media_gateway.subgraphs.playback.kafka import KafkaEventSink, RelayTargets
from media_gateway.subgraphs.playback.models import OutboxEventRecord
from media_gateway.subgraphs.playback.service import PlaybackService

NAME = "playback"
DEFAULT_PORT = 4004
OUTBOX_INTERVAL_SECONDS = 1.0


def build_schema() -> strawberry.federation.Schema:
    return schema_for(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Content],
        extensions=[AuthorizationExtension],
    )


def create(runtime: Runtime | None = None) -> Subgraph:
    owns_runtime = runtime is None
    runtime = runtime or Runtime.create()
    realtime = realtime_for(runtime.database, runtime.settings)
    service = PlaybackService(runtime.database, realtime)
    kafka = (
        KafkaEventSink(runtime.settings.kafka_bootstrap_servers)
        if runtime.settings.kafka_bootstrap_servers
        else None
    )
    targets = RelayTargets(runtime.events, kafka)
    relay = PeriodicTask(
        "playback-outbox-relay",
        lambda: service.relay_outbox(targets),
        OUTBOX_INTERVAL_SECONDS,
    )

    pruning = outbox_pruning("playback-outbox-pruning", runtime.database, OutboxEventRecord)
    runtime.metrics.watch_outbox(NAME, runtime.database, OutboxEventRecord)

    async def context(headers: Mapping[str, str]) -> PlaybackContext:
        fields = base_context(runtime, headers)
        loaders = PlaybackLoaders.create(service, fields["viewer"])
        return PlaybackContext(**fields, service=service, loaders=loaders)

    async def startup() -> None:
        realtime.retain()
        if runtime.settings.seed_demo_data:
            await service.seed_demo_history()
        relay.start()
        pruning.start()

    async def shutdown() -> None:
        await pruning.stop()
        await relay.stop()
        if kafka is not None:
            await kafka.stop()
        await realtime.release()

    return Subgraph(
        name=NAME,
        schema=build_schema(),
        context=context,
        runtime=runtime,
        default_port=DEFAULT_PORT,
        on_startup=[startup],
        on_shutdown=[shutdown],
        owns_runtime=owns_runtime,
        service=service,
    )
