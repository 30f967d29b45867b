"""Ingestion: eight platform normalizers, entity resolution, availability sync with an outbox,
the ``ingest`` command, the signed webhook and delivery to Kafka across a broker outage."""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings
from media_gateway.storage.outbox import KafkaPublisher
from media_gateway.subgraphs.catalog.ingest.canonical import FeedError
from media_gateway.subgraphs.catalog.ingest.ingester import Ingester
from media_gateway.subgraphs.catalog.ingest.normalizers import normalizer_for
from media_gateway.subgraphs.catalog.ingest.webhook import sign
from media_gateway.subgraphs.catalog.models import CatalogOutboxRecord
from media_gateway.subgraphs.catalog.outbox import catalog_relay

from .conftest import CatalogClient, catalog_alone
from .feeds import FEEDS, HULU, NETFLIX, PRIME_VIDEO, soon
from .test_search import search, titles

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")


@pytest.mark.parametrize("platform", sorted(FEEDS))
def test_each_platform_feed_normalizes_to_the_canonical_model(platform: str) -> None:
    name, normalize = normalizer_for(platform)
    [title] = normalize(FEEDS[platform])
    assert title.platform == name and title.title and title.kind in {"movie", "series"}
    assert title.year and title.runtime_minutes and title.content_rating
    assert title.genres, "every example's genres map to ours"
    assert title.offers and all(o.platform == name for o in title.offers)
    assert all(o.deep_link.startswith("https://") for o in title.offers)


def test_genre_vocabularies_map_to_ours() -> None:
    [netflix] = normalizer_for("netflix")[1](NETFLIX)
    assert set(netflix.genres) == {"Science Fiction", "Fantasy", "Action", "Adventure"}
    [prime] = normalizer_for("Prime Video")[1](PRIME_VIDEO)
    assert [(o.offer_type, str(o.price), o.quality) for o in prime.offers] == [
        ("rent", "3.99", "UHD"),
        ("subscription", "None", "HD"),
    ]


def test_bad_feeds_are_refused_with_a_reason() -> None:
    with pytest.raises(FeedError):
        normalizer_for("blockbuster")
    with pytest.raises(FeedError):
        normalizer_for("netflix")[1]({"items": []})
    with pytest.raises(FeedError):
        normalizer_for("netflix")[1]({"titles": [{"title": "no id"}]})


async def _events(platform: Platform, after: int) -> list[CatalogOutboxRecord]:
    async with platform.runtime.database.session() as session:
        rows = await session.exec(
            select(CatalogOutboxRecord)
            .where(col(CatalogOutboxRecord.id) > after)
            .order_by(col(CatalogOutboxRecord.id))
        )
        return list(rows.all())


async def _last_event(platform: Platform) -> int:
    rows = await _events(platform, 0)
    return int(rows[-1].id or 0) if rows else 0


async def test_entity_resolution_and_availability_sync(
    platform: Platform, client: CatalogClient
) -> None:
    ingester = Ingester(platform.runtime.database)
    start = await _last_event(platform)
    # external id: the Netflix feed's Matrix is the catalog's Matrix
    summary = await ingester.ingest(normalizer_for("netflix")[1](NETFLIX))
    assert summary.content_ids == ["movie:the-matrix-1999"] and summary.titles_matched == 1
    # title + year + runtime: Hulu's Inception has no external id
    hulu = await ingester.ingest(normalizer_for("hulu")[1](HULU))
    assert hulu.content_ids == ["movie:inception-2010"]
    # a new title is created and becomes searchable once the index applies the events
    feed = copy.deepcopy(PRIME_VIDEO)
    unique = f"Moonlit Harbor {uuid.uuid4().hex[:6]}"
    feed["items"][0]["name"] = unique
    feed["items"][0]["externalIds"] = {"imdb": f"tt{uuid.uuid4().int % 10**8:08d}"}
    prime = normalizer_for("prime-video")[1]
    first = await ingester.ingest(prime(feed))
    assert first.titles_new == 1 and first.offers_new == 2
    await platform["catalog"].service.search.sync_index()
    assert titles(await search(client, unique))[0] == unique
    # the same feed again: nothing changed
    again = await ingester.ingest(prime(feed))
    assert (again.titles_new, again.offers_new, again.offers_changed) == (0, 0, 0)
    # a price change, an announced end date, an offer gone
    feed["items"][0]["offers"][0]["price"]["amount"] = 2.99
    feed["items"][0]["offers"][1]["endDate"] = soon(10)
    changed = await ingester.ingest(prime(feed))
    assert (changed.offers_changed, changed.offers_expiring) == (1, 1)
    feed["items"][0]["offers"] = feed["items"][0]["offers"][:1]
    removed = await ingester.ingest(prime(feed))
    assert removed.offers_removed == 1
    changes = [
        (e.topic, e.payload["change"])
        for e in await _events(platform, start)
        if e.key == first.content_ids[0]
    ]
    assert ("catalog.content", "new") in changes
    assert [c for t, c in changes if t == "catalog.availability"] == [
        "new",
        "new",
        "changed",
        "expiring",
        "removed",
    ]
    body = await client(
        "query($id: ID!) { content(id: $id) { availability { offerType price currency } } }",
        {"id": first.content_ids[0]},
    )
    assert body["data"]["content"]["availability"] == [
        {"offerType": "RENT", "price": 2.99, "currency": "USD"}
    ]


async def test_ingest_command(
    platform: Platform,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    client: CatalogClient,
) -> None:
    from media_gateway.platform.settings import reset_settings_cache
    from media_gateway.subgraphs.catalog.cli import _ingest

    feed = copy.deepcopy(FEEDS["peacock"])
    unique = f"Quiet Field {uuid.uuid4().hex[:6]}"
    feed["assets"][0]["title"] = unique
    feed["assets"][0]["imdb"] = None
    path = tmp_path / "peacock.json"
    path.write_text(json.dumps(feed))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    if settings.database_schema:
        monkeypatch.setenv("DATABASE_SCHEMA", settings.database_schema)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    reset_settings_cache()
    try:
        args = argparse.Namespace(platform="peacock", file=path, snapshot=False, no_progress=True)
        assert await _ingest(args) == 0
        bad = argparse.Namespace(platform="nope", file=path, snapshot=False, no_progress=True)
        assert await _ingest(bad) == 2
    finally:
        reset_settings_cache()
    await platform["catalog"].service.search.sync_index()
    result = await search(client, unique, filters={"offerTypes": ["FREE"]})
    assert titles(result)[0] == unique


@pytest.mark.parametrize("surface", ["catalog", "gateway"])
async def test_signed_webhook(settings: Settings, surface: str) -> None:
    """The webhook on the catalog service's own app and on the embedded ``serve`` app."""
    secret = "webhook-test-secret"
    runtime = Runtime.create(dataclasses.replace(settings, catalog_webhook_secret=secret))
    # the embedded ``serve`` app runs every subgraph; the catalog's own app runs alone
    platform = Platform.create(runtime) if surface == "gateway" else catalog_alone(runtime)
    await platform.startup()
    try:
        app: Any
        if surface == "catalog":
            app = platform["catalog"].asgi_app()
        else:
            from media_gateway.app.serve import build_gateway_app

            from .conftest import supergraph

            app = build_gateway_app(platform, supergraph(), graphiql=False)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://media"
        ) as http:

            async def push(platform_name: str, body: bytes, stamp: int, signature: str) -> Any:
                return await http.post(
                    f"/webhooks/ingest/{platform_name}",
                    content=body,
                    headers={"x-signature-timestamp": str(stamp), "x-signature": signature},
                )

            feed = copy.deepcopy(FEEDS["paramount-plus"])
            unique = f"Signal Fire {uuid.uuid4().hex[:6]}"
            feed["content"][0]["title"] = unique
            body = json.dumps(feed).encode()
            now = int(time.time())
            good = await push("paramount-plus", body, now, sign(secret, now, body))
            assert good.status_code == 200 and good.json()["titlesNew"] == 1
            replay = await push("paramount-plus", body, now, sign(secret, now, body))
            assert replay.status_code == 401 and "replay" in replay.json()["error"]
            bad = await push("paramount-plus", body, now, sign("wrong", now, body))
            assert bad.status_code == 401
            old = now - 3600
            stale = await push("paramount-plus", body, old, sign(secret, old, body))
            assert stale.status_code == 401 and "window" in stale.json()["error"]
            junk = b"not json"
            broken = await push("paramount-plus", junk, now, sign(secret, now, junk))
            assert broken.status_code == 400
            unknown = await push("blockbuster", body, now + 1, sign(secret, now + 1, body))
            assert unknown.status_code == 400
            missing = await http.post("/webhooks/ingest/netflix", content=body)
            assert missing.status_code == 401
            if surface == "gateway":
                # the pushed title is searchable through the same gateway right away
                response = await http.post(
                    "/graphql",
                    json={
                        "query": "query($q: String!) { search(query: $q, first: 3) "
                        "{ edges { node { title } } } }",
                        "variables": {"q": unique},
                    },
                )
                found = response.json()["data"]["search"]["edges"]
                assert found and found[0]["node"]["title"] == unique
    finally:
        await platform.shutdown()
        await runtime.close()


def _rated_feed(run: str, region: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A Netflix feed whose titles carry reception data: ``criticScore`` (0-100),
    ``audienceScore`` (0-10), ``voteCount`` and a release year or ``releaseDate``."""
    return {
        "titles": [
            {
                "netflixId": f"{run}-{number}",
                "type": "movie",
                "runtimeMinutes": 100,
                "maturityRating": "PG-13",
                "genres": ["Dramas"],
                "availability": [{"country": region}],
                **item,
            }
            for number, item in enumerate(items)
        ]
    }


CONTENT_SCORES = "query($ids: [ID!]!) { contents(ids: $ids) { id qualityScore popularity } }"


async def test_quality_score_rewards_more_and_better_ratings(
    platform: Platform, client: CatalogClient
) -> None:
    run = uuid.uuid4().hex[:6]
    region = f"Q{run[:5]}".upper()
    feed = _rated_feed(
        run,
        region,
        [
            # many high ratings, good reviews
            {
                "title": f"Deep Current {run}",
                "releaseYear": 2015,
                "audienceScore": 8.6,
                "voteCount": 60000,
                "criticScore": 93,
            },
            # a higher mean, but from a handful of votes: the prior holds it back
            {
                "title": f"Shallow Current {run}",
                "releaseYear": 2015,
                "audienceScore": 9.6,
                "voteCount": 12,
            },
            # fewer and worse ratings
            {
                "title": f"Dry Current {run}",
                "releaseYear": 2015,
                "audienceScore": 5.1,
                "voteCount": 3000,
                "criticScore": 40,
            },
        ],
    )
    ingester = Ingester(platform.runtime.database)
    summary = await ingester.ingest(normalizer_for("netflix")[1](feed))
    await platform["catalog"].service.search.sync_index()
    body = await client(CONTENT_SCORES, {"ids": summary.content_ids})
    assert "errors" not in body, body
    deep, shallow, dry = (c["qualityScore"] for c in body["data"]["contents"])
    assert deep > shallow > dry
    assert dry >= 0 and deep <= 10
    # the same title carried by a second platform scores higher still
    hulu = {
        "items": [
            {
                "eab_id": f"hulu-{run}",
                "name": f"Deep Current {run}",
                "type": "movie",
                "premiere_date": "2015-05-01",
                "duration_minutes": 101,
                "rating": "PG-13",
                "genre_names": ["Drama"],
                "audienceScore": 8.6,
                "voteCount": 60000,
                "criticScore": 93,
                "availability": [{"region": region}],
            }
        ]
    }
    second = await ingester.ingest(normalizer_for("hulu")[1](hulu))
    assert second.content_ids == summary.content_ids[:1]
    body = await client(CONTENT_SCORES, {"ids": summary.content_ids[:1]})
    assert body["data"]["contents"][0]["qualityScore"] > deep


async def test_freshness_ranks_a_newer_equally_rated_title_higher(
    platform: Platform, client: CatalogClient
) -> None:
    run = uuid.uuid4().hex[:6]
    region = f"Q{run[:5]}".upper()
    rating = {"audienceScore": 7.8, "voteCount": 20000, "criticScore": 80}
    this_year = time.gmtime().tm_year
    feed = _rated_feed(
        run,
        region,
        [
            {"title": f"Old Lighthouse {run}", "releaseYear": this_year - 25, **rating},
            {"title": f"New Lighthouse {run}", "releaseYear": this_year, **rating},
        ],
    )
    summary = await Ingester(platform.runtime.database).ingest(normalizer_for("netflix")[1](feed))
    await platform["catalog"].service.search.sync_index()
    body = await client(CONTENT_SCORES, {"ids": summary.content_ids})
    old, new = body["data"]["contents"]
    assert old["qualityScore"] == new["qualityScore"]
    assert new["popularity"] > old["popularity"]
    # with nothing but filters to go by, search orders by popularity: the newer title first
    result = await search(client, "", filters={"regions": [region]})
    assert titles(result) == [f"New Lighthouse {run}", f"Old Lighthouse {run}"]


REPO = Path(__file__).resolve().parents[3]
BROKER_PORTS = range(5790, 5810)  # where a test may start a broker of its own


def _free_port() -> int:
    for port in BROKER_PORTS:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.skip(f"no free port in {BROKER_PORTS.start}-{BROKER_PORTS.stop - 1} for a broker")


class Broker:
    """A broker of the test's own, started with scripts/start-kafka.sh on a free port and
    stopped by its PID, so the test can take it down and bring it back."""

    def __init__(self, port: int, pidfile: Path) -> None:
        self.port = port
        self.pidfile = pidfile
        self.bootstrap = f"127.0.0.1:{port}"

    async def start(self) -> None:
        env = {**os.environ, "KAFKA_PORT": str(self.port), "PYTHON": sys.executable}
        done = await asyncio.to_thread(
            subprocess.run,
            ["bash", str(REPO / "scripts" / "start-kafka.sh"), str(self.pidfile)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(self.pidfile)

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    async def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)  # raises once the process is gone
                await asyncio.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
            await asyncio.sleep(0.2)
        except ProcessLookupError:
            pass
        self.pidfile.unlink(missing_ok=True)


async def _consume(bootstrap: str, run: str, expected: int) -> list[tuple[str, str, str]]:
    """(topic, key, change) of this run's events on the broker, read from the beginning."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        "catalog.content",
        "catalog.availability",
        bootstrap_servers=bootstrap,
        group_id=f"catalog-test-{run}-{uuid.uuid4().hex[:4]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[str, str, str]] = []
    try:
        deadline = time.monotonic() + 30
        while len(received) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    key = record.key.decode() if record.key else ""
                    if key.startswith("movie:outage-test-" + run):
                        change = json.loads(record.value)["change"]
                        received.append((record.topic, key, change))
    finally:
        await consumer.stop()
    return received


@pytest.mark.kafka
@pytest.mark.skipif(
    not KAFKA, reason="TEST_KAFKA_BOOTSTRAP_SERVERS is not set (Kafka tests are not enabled)"
)
async def test_every_event_is_delivered_after_a_broker_outage(
    settings: Settings, tmp_path: Path
) -> None:
    """A broker of our own goes down after the first batch of an import and comes back after
    it: the outbox keeps what could not be published, and the relay delivers all of it."""
    from media_gateway.storage.database import Database

    # the catalog's storage, with no catalog service relaying next to the test
    database = Database(settings.database_url, schema=settings.database_schema)
    await database.migrate()
    broker = Broker(_free_port(), tmp_path / "kafka.pid")
    await broker.start()
    try:
        await _deliver_after_outage(database, broker)
    finally:
        await broker.stop()
        await database.dispose()


async def _deliver_after_outage(database: Any, broker: Broker) -> None:
    run = uuid.uuid4().hex[:8]
    feed: dict[str, Any] = {"titles": []}
    for number in range(30):
        feed["titles"].append(
            {
                "netflixId": f"{run}-{number}",
                "title": f"Outage Test {run} {number}",
                "type": "movie",
                "releaseYear": 2000 + number % 20,
                "runtimeMinutes": 90,
                "maturityRating": "PG",
                "genres": ["Dramas"],
                "availability": [{"country": "US"}, {"country": "GB"}],
            }
        )
    publisher = KafkaPublisher(broker.bootstrap, request_timeout_ms=2000)
    relay = catalog_relay(database, publisher)
    batches = 0
    failures = 0
    before_outage: list[tuple[str, str, str]] = []

    async def after_batch() -> None:
        """The relay runs after each batch; the broker goes down after the first."""
        nonlocal batches, failures, before_outage
        batches += 1
        if batches == 1:
            await relay.drain(attempts=20)
            # what the broker holds before it goes down (its storage is in memory)
            before_outage = await _consume(broker.bootstrap, run, 30)
            await broker.stop()
            return
        try:
            await relay.relay_once()
        except ConnectionError:
            failures += 1

    try:
        summary = await Ingester(database).ingest(
            normalizer_for("netflix")[1](feed), batch_size=10, after_batch=after_batch
        )
        assert batches == 3 and failures == 2 and summary.events == 90
        assert len(before_outage) == 30  # the first batch: 10 titles, 20 offers
        async with database.session() as session:
            rows = await session.exec(select(CatalogOutboxRecord))
            ours = [e for e in rows.all() if e.key.startswith("movie:outage-test-" + run)]
        assert len(ours) == 90
        waiting = [e for e in ours if e.published_at is None]
        assert len(waiting) == 60, "the import went on; its events wait in the outbox"
        # the broker is back: the relay delivers everything that waited, through the same
        # publisher that failed during the outage
        await broker.start()
        await relay.drain(attempts=30)
        assert await relay.pending() == 0
    finally:
        await publisher.close()
    after_outage = await _consume(broker.bootstrap, run, 60)
    delivered = before_outage + after_outage
    assert len(delivered) == 90
    assert sorted((t, k, c) for t, k, c in delivered) == sorted(
        (e.topic, e.key, e.payload["change"]) for e in ours
    )
    assert sum(1 for topic, _, _ in delivered if topic == "catalog.content") == 30
