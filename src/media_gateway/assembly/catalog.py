"""Catalog subgraph: owns ``Content`` (movies, series, seasons, episodes) and availability."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import strawberry
from strawberry.tools import merge_types

from media_gateway.assembly.base import Runtime, Subgraph, base_context
from media_gateway.assembly.tastes import RecommenderTastes
from media_gateway.dataloaders.catalog import CatalogLoaders
from media_gateway.platform.events import Event, PeriodicTask
from media_gateway.resolvers import catalog_editing, catalog_search
from media_gateway.resolvers.catalog import Query as CatalogQuery
from media_gateway.schema import references
from media_gateway.schema.authorization import AuthorizationExtension
from media_gateway.schema.catalog import CONTENT_TYPES, CatalogContext
from media_gateway.schema.common import build_schema as schema_for
from media_gateway.storage.outbox import KafkaPublisher, outbox_backlog, outbox_pruning
from media_gateway.subgraphs.catalog.demo.seed import seed_demo_catalog
from media_gateway.subgraphs.catalog.editing import CatalogEditor
from media_gateway.subgraphs.catalog.ingest.ingester import Ingester, IngestSummary
from media_gateway.subgraphs.catalog.ingest.webhook import webhook_route
from media_gateway.subgraphs.catalog.models import CatalogOutboxRecord
from media_gateway.subgraphs.catalog.outbox import catalog_relay
from media_gateway.subgraphs.catalog.search.analytics import (
    PRUNE_INTERVAL_SECONDS,
    SearchAnalytics,
)
from media_gateway.subgraphs.catalog.search.index import SearchIndex
from media_gateway.subgraphs.catalog.search.synonyms import QueryRules
from media_gateway.subgraphs.catalog.titles import TitleService
from media_gateway.subgraphs.recommendations.kafka import PlaybackEventConsumer

NAME = "catalog"
DEFAULT_PORT = 4002


@dataclass(frozen=True)
class CatalogServices:
    """The catalog's services, for in-process callers and tests (``Subgraph.service``)."""

    titles: TitleService
    search: SearchIndex
    search_analytics: SearchAnalytics
    query_rules: QueryRules


# search analytics and the editors' query rules (``search:admin``) beside the public catalog
Query = merge_types("Query", (CatalogQuery, catalog_search.Query, catalog_editing.Query))
Mutation = merge_types("Mutation", (catalog_search.Mutation, catalog_editing.Mutation))
PLAYBACK_TOPIC = "playback.events"  # playbacks started from a search (click-through)
SEARCH_ANALYTICS_GROUP = "media-gateway-catalog-search-analytics"


def build_schema() -> strawberry.federation.Schema:
    return schema_for(
        query=Query,
        mutation=Mutation,
        types=CONTENT_TYPES,
        extensions=[AuthorizationExtension],
    )


def create(runtime: Runtime | None = None) -> Subgraph:
    owns_runtime = runtime is None
    runtime = runtime or Runtime.create()
    query_rules = QueryRules(runtime.database)
    search_analytics = SearchAnalytics(runtime.database)
    runtime.events.subscribe(PLAYBACK_TOPIC, search_analytics.on_playback_event)
    # a signed-in viewer's tastes order near-ties in search: the recommender's affinity
    tastes = RecommenderTastes(runtime.database)
    search = SearchIndex(runtime.database, runtime.settings, query_rules, tastes=tastes)
    titles = TitleService(runtime.database, on_change=search.sync_index)
    editor = CatalogEditor(runtime.database, on_change=search.sync_index)
    references.register_local(runtime.database, NAME, titles)  # titles others refer to

    async def context(headers: Mapping[str, str]) -> CatalogContext:
        return CatalogContext(
            **base_context(runtime, headers),
            titles=titles,
            search=search,
            loaders=CatalogLoaders.create(titles),
            editor=editor,
            search_analytics=search_analytics,
            query_rules=query_rules,
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

    relay = catalog_relay(runtime.database, publish)
    runtime.metrics.watch_outbox(NAME, outbox_backlog(runtime.database, CatalogOutboxRecord))
    tasks = [
        PeriodicTask("catalog-index-sync", search.sync_index, 1.0),
        PeriodicTask("catalog-outbox-relay", relay.relay_step, 1.0),
        outbox_pruning("catalog-outbox-pruning", runtime.database, CatalogOutboxRecord),
        PeriodicTask(
            "catalog-search-analytics-pruning", search_analytics.prune, PRUNE_INTERVAL_SECONDS
        ),
    ]

    async def ingested(summary: IngestSummary) -> None:
        await search.sync_index()

    route = webhook_route(
        runtime.settings.catalog_webhook_secret, Ingester(runtime.database), ingested
    )

    consumers: list[PlaybackEventConsumer] = []

    async def startup() -> None:
        if runtime.settings.seed_demo_data:
            await seed_demo_catalog(runtime.database)
        await search.engine()  # the search index is built from storage at start
        for task in tasks:
            task.start()
        if runtime.settings.kafka_bootstrap_servers:  # plays from searches, from any process
            consumer = PlaybackEventConsumer(
                runtime.settings.kafka_bootstrap_servers,
                PLAYBACK_TOPIC,
                search_analytics.on_playback_event,
                group_id=SEARCH_ANALYTICS_GROUP,
                lag=runtime.metrics.consumer(SEARCH_ANALYTICS_GROUP),
            )
            await consumer.start()
            consumers.append(consumer)

    async def shutdown() -> None:
        for task in tasks:
            await task.stop()
        while consumers:
            await consumers.pop().stop()
        await search_analytics.close()
        if kafka is not None:
            await kafka.close()
        search.close()
        await tastes.close()

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
        service=CatalogServices(titles, search, search_analytics, query_rules),
    )
