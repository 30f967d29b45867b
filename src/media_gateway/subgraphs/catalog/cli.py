"""``media-gateway ingest PLATFORM FILE``: import a platform's feed (JSON) into the catalog."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="import a streaming platform's catalog feed (JSON)",
        description=(
            "Normalize a platform's feed, match its titles to the catalog, sync the platform's "
            "offers and write every change to the catalog outbox (published to Kafka when "
            "KAFKA_BOOTSTRAP_SERVERS is set)."
        ),
    )
    parser.add_argument(
        "platform",
        help="netflix, prime-video, disney-plus, max, hulu, apple-tv-plus, paramount-plus, peacock",
    )
    parser.add_argument("file", type=Path, help="the feed, a JSON file")
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help="the feed lists all of the platform's offers: remove offers it no longer lists",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


async def _ingest(args: argparse.Namespace) -> int:
    from media_gateway.platform.settings import get_settings
    from media_gateway.storage.database import Database
    from media_gateway.storage.outbox import KafkaPublisher
    from media_gateway.subgraphs.catalog.ingest.canonical import FeedError
    from media_gateway.subgraphs.catalog.ingest.ingester import Ingester
    from media_gateway.subgraphs.catalog.ingest.normalizers import normalizer_for
    from media_gateway.subgraphs.catalog.outbox import catalog_relay

    try:
        platform, normalize = normalizer_for(args.platform)
        feed = json.loads(Path(args.file).read_text(encoding="utf-8"))
        if not isinstance(feed, dict):
            raise FeedError("the feed is not a JSON object")
        titles = normalize(feed)
    except (OSError, ValueError) as exc:
        print(f"ingest: {exc}")
        return 2
    settings = get_settings()
    database = Database(settings.database_url, schema=settings.database_schema)
    try:
        await database.migrate()
        summary = await Ingester(database).ingest(
            titles, full_snapshot=args.snapshot, progress=not args.no_progress
        )
        print(f"Ingested {len(titles)} {platform} titles: {summary.describe()}.")
        if settings.kafka_bootstrap_servers:
            publisher = KafkaPublisher(settings.kafka_bootstrap_servers)
            relay = catalog_relay(database, publisher)
            sent = await relay.drain(attempts=5)
            await publisher.close()
            left = await relay.pending()
            print(f"Published {sent} events to Kafka; {left} still waiting for the broker.")
        else:
            print("The running catalog service publishes the events and updates its index.")
    finally:
        await database.dispose()
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_ingest(args))
