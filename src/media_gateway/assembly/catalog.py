"""Catalog subgraph: owns ``Content`` (movies, series, seasons, episodes) and availability."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import strawberry

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.dataloaders.catalog import CatalogLoaders
from media_gateway.platform.events import Event, PeriodicTask
from media_gateway.resolvers.catalog import Query
from media_gateway.schema import references
from media_gateway.schema.catalog import CONTENT_TYPES, CatalogContext
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.storage.outbox import outbox_backlog, outbox_pruning
from media_gateway.subgraphs.catalog.demo.seed import seed_demo_catalog
from media_gateway.subgraphs.catalog.ingest.ingester import Ingester, IngestSummary
from media_gateway.subgraphs.catalog.ingest.webhook import webhook_route
from media_gateway.subgraphs.catalog.models import CatalogOutboxRecord
from media_gateway.subgraphs.catalog.outbox import KafkaPublisher, OutboxRelay
from media_gateway.subgraphs.catalog.search.index import SearchIndex
from media_gateway.subgraphs.catalog.titles import TitleService

NAME = "catalog"
DEFAULT_PORT = 4002


@dataclass(frozen=True)
class CatalogServices:
    """The catalog's services, for in-process callers and tests (``Subgraph.service``)."""

    titles: TitleService
    search: SearchIndex


def build_schema() -> strawberry.federation.Schema:
    return schema_for(query=Query, types=CONTENT_TYPES)


def create(runtime: Runtime | None = None) -> Subgraph:
    owns_runtime = runtime is None
    runtime = runtime or Runtime.create()
    search = SearchIndex(runtime.database, runtime.settings)
    titles = TitleService(runtime.database, on_change=search.sync_index)
    references.register_local(runtime.database, NAME, titles)  # titles others refer to

    async def context(headers: Mapping[str, str]) -> CatalogContext:
        return CatalogContext(
            **base_context(runtime, headers),
            titles=titles,
            search=search,
            loaders=CatalogLoaders.create(titles),
        )

    kafka = (
        KafkaPublisher(runtime.settings.kafka_bootstrap_servers)
        if runtime.settings.kafka_bootstrap_servers
        else None
    )

    async def publish(topic: str, key: str, payload: dict[str, object]) -> None:
        if kafka is not None:
            await kafka(topic, key, payload)
        await runtime.events.publish(Event(topic, key, payload))

    relay = OutboxRelay(runtime.database, publish)
    runtime.metrics.watch_outbox(NAME, outbox_backlog(runtime.database, CatalogOutboxRecord))
    tasks = [
        PeriodicTask("catalog-index-sync", search.sync_index, 1.0),
        PeriodicTask("catalog-outbox-relay", relay.relay_step, 1.0),
        outbox_pruning("catalog-outbox-pruning", runtime.database, CatalogOutboxRecord),
    ]

    async def ingested(summary: IngestSummary) -> None:
        await search.sync_index()

    route = webhook_route(
        runtime.settings.catalog_webhook_secret, Ingester(runtime.database), ingested
    )

    async def startup() -> None:
        if runtime.settings.seed_demo_data:
            await seed_demo_catalog(runtime.database)
        await search.engine()  # the search index is built from storage at start
        for task in tasks:
            task.start()

    async def shutdown() -> None:
        for task in tasks:
            await task.stop()
        if kafka is not None:
            await kafka.close()
        search.close()

    return Subgraph(
        name=NAME,
        schema=build_schema(),
        context=context,
        runtime=runtime,
        default_port=DEFAULT_PORT,
        on_startup=[startup],
        on_shutdown=[shutdown],
        routes=[route],
        owns_runtime=owns_runtime,
        service=CatalogServices(titles, search),
    )
