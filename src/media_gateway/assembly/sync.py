"""Sync subgraph: devices, the replicated watchlist and progress, remote commands."""

from __future__ import annotations

from collections.abc import Mapping

import strawberry

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.auth import AuthorizationExtension
from media_gateway.dataloaders.sync import SyncLoaders
from media_gateway.realtime import realtime_for
from media_gateway.resolvers.sync import Mutation, Query, Subscription
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.schema.sync import Content, User
from media_gateway.subgraphs import references
from media_gateway.subgraphs.events import PeriodicTask
from media_gateway.subgraphs.sync.context import SyncContext
from media_gateway.subgraphs.sync.service import SyncService

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
    realtime = realtime_for(runtime.database, runtime.settings)
    service = SyncService(runtime.database, realtime)
    references.register_local(runtime.database, NAME, service)  # devices others refer to

    # now and then: drop expired real-time events (of no use to anyone) and forget applied
    # operation ids older than the replay window
    async def prune() -> None:
        await realtime.prune()
        await service.prune_operations()

    pruning = PeriodicTask("sync-pruning", prune, PRUNE_INTERVAL_SECONDS)
    # device presence: renew the leases of this process's connections and take offline the
    # devices whose holder stopped renewing theirs (in every instance)
    presence = PeriodicTask(
        "device-presence-leases", service.maintain_presence, service.heartbeat_seconds
    )

    async def context(headers: Mapping[str, str]) -> SyncContext:
        return SyncContext(
            **base_context(runtime, headers), service=service, loaders=SyncLoaders.create(service)
        )

    async def startup() -> None:
        realtime.retain()
        if runtime.settings.seed_demo_data:
            await service.seed_demo_watchlist()
        pruning.start()
        presence.start()

    async def shutdown() -> None:
        await presence.stop()
        await pruning.stop()
        await service.release_leases()
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
