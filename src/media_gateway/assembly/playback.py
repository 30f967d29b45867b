"""Playback subgraph: sessions, resume points, continue-watching and watch history."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.dataloaders.playback import PlaybackLoaders
from media_gateway.platform.events import PeriodicTask
from media_gateway.realtime import realtime_for
from media_gateway.resolvers.playback import Mutation, Query
from media_gateway.schema.authorization import AuthorizationExtension
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.schema.playback import Content, PlaybackContext, User
from media_gateway.storage.erasure import AccountEvents
from media_gateway.storage.outbox import outbox_backlog, outbox_pruning
from media_gateway.subgraphs.playback.demo import seed_demo_history
from media_gateway.subgraphs.playback.kafka import KafkaEventSink, RelayTargets
from media_gateway.subgraphs.playback.models import (
    OutboxEventRecord,
    PlaybackSessionRecord,
    ProgressRecord,
    WatchEventRecord,
)
from media_gateway.subgraphs.playback.services import PlaybackServices
from media_gateway.subscriptions.playback import Subscription

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
    # a deleted account's playback sessions, progress and watch history go with it
    accounts = AccountEvents(
        runtime.database,
        [PlaybackSessionRecord, ProgressRecord, WatchEventRecord],
        NAME,
        subscribe=runtime.events.subscribe,
        kafka_bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
        alone=owns_runtime,
    )
    realtime = realtime_for(runtime.database, runtime.settings)
    services = PlaybackServices.create(runtime.database, realtime)
    kafka = (
        KafkaEventSink(runtime.settings.kafka_bootstrap_servers)
        if runtime.settings.kafka_bootstrap_servers
        else None
    )
    targets = RelayTargets(runtime.events, kafka)
    relay = PeriodicTask(
        "playback-outbox-relay",
        lambda: services.outbox.relay(targets),
        OUTBOX_INTERVAL_SECONDS,
    )

    pruning = outbox_pruning("playback-outbox-pruning", runtime.database, OutboxEventRecord)
    runtime.metrics.watch_outbox(NAME, outbox_backlog(runtime.database, OutboxEventRecord))

    async def context(headers: Mapping[str, str]) -> PlaybackContext:
        fields = base_context(runtime, headers)
        loaders = PlaybackLoaders.create(services.history, fields["viewer"])
        return PlaybackContext(
            **fields,
            realtime=realtime,
            sessions=services.sessions,
            history=services.history,
            loaders=loaders,
        )

    async def startup() -> None:
        realtime.retain()
        if runtime.settings.seed_demo_data:
            await seed_demo_history(runtime.database)
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
        on_startup=[startup, accounts.startup],
        on_shutdown=[accounts.shutdown, shutdown],
        owns_runtime=owns_runtime,
        service=services,
    )
