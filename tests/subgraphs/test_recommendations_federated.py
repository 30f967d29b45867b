"""Recommendations through the gateway (in-process): rows, cold start, learning, parental
limits, experiments and the Kafka consumer."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.auth.scopes import SESSION_SCOPES
from media_gateway.auth.tokens import token_service
from media_gateway.platform.demo import DEMO_USER_ID
from media_gateway.platform.ratings import allowed

Gateway = httpx.AsyncClient


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[Gateway]:
    from media_gateway.app.serve import build_gateway_app, load_supergraph

    app = build_gateway_app(platform, load_supergraph())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://gw",
    ) as http:
        yield http


async def ask(http: Gateway, query: str, token: str | None = None, **variables: Any) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def token_for(platform: Platform, user_id: str, **extra: Any) -> str:
    scopes = tuple(extra.pop("scopes", SESSION_SCOPES))
    token, _ = token_service(platform.runtime.settings).issue_access_token(
        user_id, scopes=scopes, extra=extra
    )
    return token


REGISTER = """
mutation($email: String!) { register(input: {email: $email, password: "correct horse battery",
  displayName: "New Viewer"}) { id } }
"""


async def register(http: Gateway) -> str:
    body = await ask(http, REGISTER, email=f"viewer-{uuid.uuid4().hex[:10]}@example.com")
    assert "errors" not in body, body
    return str(body["data"]["register"]["id"])


ROWS = """
{ me { rows(itemsPerRow: 5) { id kind title reason basedOn { id title }
       items { content { id title } reasonKind } } } }
"""
RECS = """
query($first: Int!, $ctx: RecommendationContext) {
  me { recommendations(first: $first, context: $ctx) {
  content { id title contentRating genres } reasonKind basedOn { id } experimentId variant } } }
"""


async def test_member_with_history_gets_rows_with_reasons(
    platform: Platform, gateway: Gateway
) -> None:
    body = await ask(gateway, ROWS, token_for(platform, DEMO_USER_ID))
    assert "errors" not in body, body
    rows = body["data"]["me"]["rows"]
    kinds = [r["kind"] for r in rows]
    assert kinds[0] == "TOP_PICKS" and "BECAUSE_YOU_WATCHED" in kinds and "GENRE" in kinds
    because = next(r for r in rows if r["kind"] == "BECAUSE_YOU_WATCHED")
    assert because["title"].startswith("Because you watched ")
    assert because["basedOn"]["title"]
    genre = next(r for r in rows if r["kind"] == "GENRE")
    assert genre["title"].startswith("Continue exploring ")
    history = {"movie:the-matrix-1999", "movie:inception-2010", "movie:alien-1979"}
    for row in rows:
        assert row["items"] and row["reason"]
        assert all(item["content"]["title"] for item in row["items"])  # resolved by the catalog
        assert not history & {item["content"]["id"] for item in row["items"]}


async def test_new_member_gets_cold_start_rows(platform: Platform, gateway: Gateway) -> None:
    token = token_for(platform, await register(gateway))
    rows = (await ask(gateway, ROWS, token))["data"]["me"]["rows"]
    kinds = [r["kind"] for r in rows]
    assert "TRENDING" in kinds and "POPULAR" in kinds and "BECAUSE_YOU_WATCHED" not in kinds
    recs = (await ask(gateway, RECS, token, first=5))["data"]["me"]["recommendations"]
    assert len(recs) == 5 and all(r["reasonKind"] == "POPULAR" for r in recs)


async def test_context_hint_and_region(platform: Platform, gateway: Gateway) -> None:
    token = token_for(platform, DEMO_USER_ID)
    recs = (await ask(gateway, RECS, token, first=5, ctx={"genreHint": "Animation"}))["data"]["me"][
        "recommendations"
    ]
    assert sum("Animation" in r["content"]["genres"] for r in recs) >= 3


async def test_finishing_a_title_changes_the_next_answer(
    platform: Platform, gateway: Gateway
) -> None:
    user = await register(gateway)
    token = token_for(platform, user)
    before = (await ask(gateway, RECS, token, first=5))["data"]["me"]["recommendations"]
    device = await ask(gateway, 'mutation { registerDevice(name: "TV", kind: TV) { id } }', token)
    started = await ask(  # on one of the member's own devices
        gateway,
        'mutation { startPlayback(contentId: "movie:toy-story-1995", deviceId: "'
        + device["data"]["registerDevice"]["id"]
        + '", durationSeconds: 4860) { id } }',
        token,
    )
    session_id = started["data"]["startPlayback"]["id"]
    await ask(
        gateway,
        f'mutation {{ updatePlaybackProgress(sessionId: "{session_id}",'
        " positionSeconds: 4860, state: PLAYING) { id } }",
        token,
    )
    await ask(gateway, f'mutation {{ endPlayback(sessionId: "{session_id}") {{ id }} }}', token)
    await platform["playback"].service.outbox.relay(platform.runtime.events)
    after = (await ask(gateway, RECS, token, first=5))["data"]["me"]["recommendations"]
    assert [r["content"]["id"] for r in after] != [r["content"]["id"] for r in before]
    assert after[0]["reasonKind"] == "WATCHED_SIMILAR"
    assert {"id": "movie:toy-story-1995"} in [r["basedOn"] for r in after]
    assert "movie:toy-story-1995" not in {r["content"]["id"] for r in after}


async def test_kids_profile_never_gets_a_title_above_its_rating(
    platform: Platform, gateway: Gateway
) -> None:
    for user, limit in ((DEMO_USER_ID, "PG"), (await register(gateway), "G")):
        token = token_for(platform, user, max_content_rating=limit, kids=True)
        recs = (await ask(gateway, RECS, token, first=50))["data"]["me"]["recommendations"]
        assert recs
        assert all(allowed(r["content"]["contentRating"], limit) for r in recs), recs
        rows = (await ask(gateway, ROWS, token))["data"]["me"]["rows"]
        ids = {i["content"]["id"] for row in rows for i in row["items"]}
        ratings = await ask(
            gateway,
            "query($ids: [ID!]!) { contents(ids: $ids) { id contentRating } }",
            token,
            ids=sorted(ids),
        )
        if "errors" not in ratings:
            assert all(allowed(c["contentRating"], limit) for c in ratings["data"]["contents"])


EXPERIMENT = """
mutation($id: ID!) { createRecommendationExperiment(id: $id, name: "Blend weighting",
  start: true, variants: [{name: "control", share: 0.5},
             {name: "sequence-heavy", share: 0.5, weights: {sequence: 3.0}}]) { id } }
"""
RESULTS = """
query($id: ID!) { experimentResults(id: $id) { exposures
  variants { name members exposures rates { kind count rate low high } } } }
"""


async def test_experiment_assignment_is_stable_and_results_add_up(
    platform: Platform, gateway: Gateway
) -> None:
    experiment = f"blend-{uuid.uuid4().hex[:8]}"
    admin = token_for(platform, uuid.uuid4().hex, scopes=["recommendations:admin"])
    member = token_for(platform, uuid.uuid4().hex)
    refused = await ask(gateway, EXPERIMENT, member, id=experiment)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "errors" not in await ask(gateway, EXPERIMENT, admin, id=experiment)
    try:
        users = [await register(gateway) for _ in range(12)]
        variants: dict[str, str] = {}
        served = 0
        for user in users:
            token = token_for(platform, user)
            for _ in range(2):
                recs = (await ask(gateway, RECS, token, first=4))["data"]["me"]["recommendations"]
                assert {r["experimentId"] for r in recs} == {experiment}
                assert len({r["variant"] for r in recs}) == 1
                variants.setdefault(user, recs[0]["variant"])
                assert recs[0]["variant"] == variants[user]  # stable
                served += len(recs)
            clicked = await ask(
                gateway,
                "mutation($c: ID!) { recordRecommendationOutcome(contentId: $c, kind: CLICK) }",
                token,
                c=recs[0]["content"]["id"],
            )
            assert clicked["data"]["recordRecommendationOutcome"] == 1
        results = (await ask(gateway, RESULTS, admin, id=experiment))["data"]["experimentResults"]
        assert results["exposures"] == served
        assert sum(v["exposures"] for v in results["variants"]) == served
        assert sum(v["members"] for v in results["variants"]) == len(users)
        for variant in results["variants"]:
            click = next(r for r in variant["rates"] if r["kind"] == "click")
            assert click["count"] == sum(1 for v in variants.values() if v == variant["name"])
            if variant["exposures"]:
                assert click["low"] <= click["rate"] <= click["high"]
                assert click["rate"] == pytest.approx(click["count"] / variant["exposures"])
    finally:
        await ask(
            gateway,
            "mutation($id: ID!) { stopRecommendationExperiment(id: $id) { state } }",
            admin,
            id=experiment,
        )
        platform["recommendations"].service.training.invalidate()


KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")


@pytest.mark.kafka
@pytest.mark.skipif(not KAFKA, reason="TEST_KAFKA_BOOTSTRAP_SERVERS is not set")
async def test_kafka_playback_event_changes_recommendations(
    platform: Platform, gateway: Gateway
) -> None:
    from aiokafka import AIOKafkaProducer

    from media_gateway.assembly.recommendations import PLAYBACK_TOPIC
    from media_gateway.subgraphs.recommendations.kafka import PlaybackEventConsumer

    assert KAFKA
    service = platform["recommendations"].service.exposures
    consumer = PlaybackEventConsumer(
        KAFKA,
        PLAYBACK_TOPIC,
        service.on_playback_event,
        group_id=f"recs-test-{uuid.uuid4().hex[:8]}",
        offset_reset="earliest",
    )
    user = await register(gateway)
    token = token_for(platform, user)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    await consumer.start()
    try:
        event = {
            "type": "ended",
            "sessionId": uuid.uuid4().hex,
            "userId": user,
            "contentId": "movie:toy-story-1995",
            "positionSeconds": 4860,
            "completed": True,
            "occurredAt": "2024-06-01T00:00:00+00:00",
        }
        await producer.send_and_wait(PLAYBACK_TOPIC, json.dumps(event).encode(), key=user.encode())
        recs: list[Any] = []
        for _ in range(60):
            recs = (await ask(gateway, RECS, token, first=5))["data"]["me"]["recommendations"]
            if recs and recs[0]["reasonKind"] == "WATCHED_SIMILAR":
                break
            await asyncio.sleep(0.5)
        assert recs[0]["reasonKind"] == "WATCHED_SIMILAR"
        assert "movie:toy-story-1995" not in {r["content"]["id"] for r in recs}
    finally:
        await consumer.stop()
        await producer.stop()
