"""Sync subgraph: devices, the replicated watchlist and progress, remote commands."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.dataloaders.sync import SyncLoaders
from media_gateway.platform.events import PeriodicTask
from media_gateway.realtime import realtime_for
from media_gateway.realtime.models import RealtimeCursorRecord, RealtimeEventRecord
from media_gateway.resolvers.sync import Mutation, Query
from media_gateway.schema import references
from media_gateway.schema.authorization import AuthorizationExtension
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.schema.sync import Content, SyncContext, User
from media_gateway.storage.erasure import AccountEvents
from media_gateway.subgraphs.sync.demo import seed_demo_watchlist
from media_gateway.subgraphs.sync.models import (
    AppliedOperationRecord,
    DeviceConnectionRecord,
    DeviceRecord,
    ProgressRegisterRecord,
    WatchlistAddRecord,
    WatchlistEntryRecord,
    WatchlistHorizonRecord,
    WatchlistTombstoneRecord,
)
from media_gateway.subgraphs.sync.services import SyncServices
from media_gateway.subscriptions.sync import Subscription

NAME = "sync"
DEFAULT_PORT = 4005
PRUNE_INTERVAL_SECONDS = 600.0


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
    # a deleted account's devices, watchlist, replicated state and real-time events go too
    accounts = AccountEvents(
        runtime.database,
        [
            DeviceConnectionRecord,
            DeviceRecord,
            WatchlistEntryRecord,
            AppliedOperationRecord,
            WatchlistAddRecord,
            WatchlistTombstoneRecord,
            WatchlistHorizonRecord,
            ProgressRegisterRecord,
            RealtimeEventRecord,
            RealtimeCursorRecord,
        ],
        NAME,
        subscribe=runtime.events.subscribe,
        kafka_bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
        alone=owns_runtime,
    )
    realtime = realtime_for(runtime.database, runtime.settings)
    services = SyncServices.create(runtime.database, realtime)
    presence = services.presence
    # devices others refer to
    references.register_local(runtime.database, NAME, services.devices)

    # now and then: drop expired real-time events (of no use to anyone) and forget applied
    # operation ids older than the replay window
    async def prune() -> None:
        await realtime.prune()
        await services.replication.prune_operations()

    pruning = PeriodicTask("sync-pruning", prune, PRUNE_INTERVAL_SECONDS)
    # device presence: renew the leases of this process's connections and take offline the
    # devices whose holder stopped renewing theirs (in every instance)
    leases = PeriodicTask(
        "device-presence-leases", presence.maintain_presence, presence.heartbeat_seconds
    )

    async def context(headers: Mapping[str, str]) -> SyncContext:
        return SyncContext(
            **base_context(runtime, headers),
            realtime=realtime,
            devices=services.devices,
            watchlist=services.watchlist,
            progress=services.progress,
            replication=services.replication,
            presence=presence,
            commands=services.commands,
            loaders=SyncLoaders.create(services.watchlist, services.devices),
        )

    async def startup() -> None:
        realtime.retain()
        if runtime.settings.seed_demo_data:
            await seed_demo_watchlist(runtime.database)
        pruning.start()
        leases.start()

    async def shutdown() -> None:
        await leases.stop()
        await pruning.stop()
        await presence.release_leases()
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
