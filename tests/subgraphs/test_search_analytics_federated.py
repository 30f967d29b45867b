"""Search analytics and editors' query rules through the gateway (in-process): searches and
the playbacks started from them, the figures an operator reads, rewrites proposed from what
viewers do, synonyms and rewrites taking effect in search, and the audit entries of changes.

An operator with ``search:admin`` (catalog editors and admins) may; a member or a support
agent may not."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.auth.scopes import SESSION_SCOPES, role_scopes
from media_gateway.auth.tokens import token_service
from media_gateway.schema.common import encode_cursor

Gateway = httpx.AsyncClient

NOWHERE = "AQ"  # a region without offers: a search there finds nothing
# what a session of an account with each role holds
EDITOR_SCOPES = sorted(role_scopes("catalog_editor"))
SUPPORT_SCOPES = sorted(role_scopes("support"))
ADMIN_SCOPES = sorted(role_scopes("admin"))


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


def token_for(platform: Platform, user_id: str, scopes: Any = SESSION_SCOPES) -> str:
    token, _ = token_service(platform.runtime.settings).issue_access_token(
        user_id, scopes=tuple(scopes)
    )
    return token


def code_of(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    return str(body["errors"][0]["extensions"]["code"])


REGISTER = """
mutation($email: String!) { register(input: {email: $email, password: "correct horse battery",
  displayName: "A Viewer"}) { id } }
"""
DEVICE = 'mutation { registerDevice(name: "TV", kind: TV) { id } }'
SEARCH = """
query($q: String!, $regions: [String!]) {
  search(query: $q, first: 5, filters: {regions: $regions}) {
    searchId totalCount correctedQuery nodes { id title } } }
"""
PLAY = """
mutation($c: ID!, $d: ID!, $s: ID) {
  startPlayback(contentId: $c, deviceId: $d, searchId: $s) { id } }
"""
STATS = "query searches viewers zeroResultSearches searchesWithPlay clickThroughRate"
ANALYTICS = f"""
query($since: DateTime, $until: DateTime, $region: String) {{
  searchAnalytics(since: $since, until: $until, region: $region) {{
    region searches queries zeroResultSearches searchesWithPlay plays clickThroughRate
    topQueries(first: 50) {{ {STATS} averageResults lastSearchedAt }}
    zeroResultQueries(first: 50) {{ {STATS} }}
    unplayedQueries(first: 50) {{ {STATS} }}
  }} }}
"""
TRENDING = """
query($region: String) { trendingSearches(region: $region, recentHours: 1, baselineDays: 7,
  first: 50) { query region recentSearches baselineSearches lift } }
"""
PROPOSALS = """
query($since: DateTime) { searchRewriteProposals(since: $since, minViewers: 2, first: 50) {
  fromQuery toQuery rewrites viewers fromZeroResults accepted } }
"""
CREATE_RULE = """
mutation($term: String!, $replacement: String!, $kind: SearchRuleKind!) {
  createSearchSynonym(term: $term, replacement: $replacement, kind: $kind) {
    id kind term replacement createdBy } }
"""
DELETE_RULE = "mutation($id: ID!) { deleteSearchSynonym(id: $id) { id term } }"
RULES = "{ searchSynonyms { id kind term replacement } }"
AUDIT = """
query($filter: AuditLogFilter) { auditLog(filter: $filter, first: 50) {
  edges { node { action actorId targetType targetId before after } } } }
"""


class Viewer:
    def __init__(self, user_id: str, token: str, device: str) -> None:
        self.id, self.token, self.device = user_id, token, device


async def viewer(platform: Platform, gateway: Gateway) -> Viewer:
    body = await ask(gateway, REGISTER, email=f"viewer-{uuid.uuid4().hex[:10]}@example.com")
    user_id = body["data"]["register"]["id"]
    token = token_for(platform, user_id)
    device = (await ask(gateway, DEVICE, token))["data"]["registerDevice"]["id"]
    return Viewer(user_id, token, device)


async def search(
    gateway: Gateway, query: str, who: Viewer | None = None, regions: list[str] | None = None
) -> dict[str, Any]:
    body = await ask(gateway, SEARCH, who.token if who else None, q=query, regions=regions)
    assert "errors" not in body, body
    return dict(body["data"]["search"])


async def play(gateway: Gateway, who: Viewer, found: dict[str, Any]) -> None:
    body = await ask(
        gateway,
        PLAY,
        who.token,
        c=found["nodes"][0]["id"],
        d=who.device,
        s=found["searchId"],
    )
    assert "errors" not in body, body


async def deliver_playback_events(platform: Platform) -> None:
    await platform["playback"].service.outbox.relay(platform.runtime.events)


async def test_search_admin_fields_need_the_search_admin_scope(
    platform: Platform, gateway: Gateway
) -> None:
    member = token_for(platform, uuid.uuid4().hex)
    support = token_for(platform, uuid.uuid4().hex, SUPPORT_SCOPES)
    editor = token_for(platform, uuid.uuid4().hex, EDITOR_SCOPES)
    admin = token_for(platform, uuid.uuid4().hex, ADMIN_SCOPES)
    operations: list[tuple[str, dict[str, Any]]] = [
        (ANALYTICS, {}),
        (TRENDING, {}),
        (PROPOSALS, {}),
        (RULES, {}),
        (CREATE_RULE, {"term": "x-term", "replacement": "x-repl", "kind": "SYNONYM"}),
        (DELETE_RULE, {"id": "no-such-rule"}),
    ]
    for query, variables in operations:
        assert code_of(await ask(gateway, query, None, **variables)) == "UNAUTHENTICATED"
        for refused in (member, support):
            assert code_of(await ask(gateway, query, refused, **variables)) == "FORBIDDEN"
    assert "errors" not in await ask(gateway, ANALYTICS, editor)
    assert "errors" not in await ask(gateway, ANALYTICS, admin)
    assert code_of(await ask(gateway, DELETE_RULE, editor, id="no-such-rule")) == "NOT_FOUND"


async def test_analytics_count_searches_plays_and_their_queries(
    platform: Platform, gateway: Gateway
) -> None:
    editor = token_for(platform, uuid.uuid4().hex, EDITOR_SCOPES)
    nothing = f"qxzvbnmk {uuid.uuid4().hex[:6]}"
    since = datetime.now(UTC).isoformat()
    first, second = await viewer(platform, gateway), await viewer(platform, gateway)

    found = await search(gateway, "Toy  Story", first, ["US"])  # normalised to "toy story"
    assert found["totalCount"] > 0 and found["searchId"]
    await play(gateway, first, found)
    await search(gateway, "toy story", second, ["US"])  # not played
    await search(gateway, "TOY STORY")  # anonymous, no region
    empty = await search(gateway, nothing, first, [NOWHERE])
    assert empty["totalCount"] == 0 and empty["searchId"]
    await search(gateway, "jumanji", second)  # results, never played
    page_two = await ask(
        gateway,
        'query($after: String) { search(query: "toy story", first: 1, after: $after) '
        "{ searchId } }",
        after=encode_cursor(0),
    )
    assert page_two["data"]["search"]["searchId"] is None  # only first pages count
    assert (await search(gateway, "   "))["searchId"] is None  # browsing is not a search
    await deliver_playback_events(platform)
    await deliver_playback_events(platform)  # delivered twice: still one play

    body = await ask(gateway, ANALYTICS, editor, since=since)
    assert "errors" not in body, body
    figures = body["data"]["searchAnalytics"]
    assert figures["region"] is None
    assert (figures["searches"], figures["queries"]) == (5, 3)
    assert figures["zeroResultSearches"] == 1
    assert (figures["searchesWithPlay"], figures["plays"]) == (1, 1)
    assert figures["clickThroughRate"] == pytest.approx(1 / 5)
    top = figures["topQueries"]
    assert [q["query"] for q in top][:1] == ["toy story"]
    assert top[0]["searches"] == 3 and top[0]["viewers"] == 2
    assert top[0]["searchesWithPlay"] == 1
    assert top[0]["clickThroughRate"] == pytest.approx(1 / 3)
    assert [q["query"] for q in figures["zeroResultQueries"]] == [nothing]
    assert [q["query"] for q in figures["unplayedQueries"]] == ["jumanji"]

    body = await ask(gateway, ANALYTICS, editor, since=since, region="us")
    us = body["data"]["searchAnalytics"]
    assert (us["region"], us["searches"], us["searchesWithPlay"]) == ("US", 2, 1)
    assert us["clickThroughRate"] == pytest.approx(1 / 2)
    body = await ask(gateway, ANALYTICS, editor, since=since, region=NOWHERE)
    nowhere = body["data"]["searchAnalytics"]
    assert (nowhere["searches"], nowhere["zeroResultSearches"]) == (1, 1)
    assert [q["query"] for q in nowhere["zeroResultQueries"]] == [nothing]

    # trending in the last hour against the week before: every query here is new
    trending = (await ask(gateway, TRENDING, editor, region="US"))["data"]["trendingSearches"]
    toy = next(t for t in trending if t["query"] == "toy story")
    assert toy["region"] == "US" and toy["recentSearches"] >= 2
    assert toy["lift"] > 1
    trending = (await ask(gateway, TRENDING, editor, region=NOWHERE))["data"]
    assert nothing not in {t["query"] for t in trending["trendingSearches"]}  # searched once

    for bad in ({"region": "USA"}, {"since": "2030-01-01T00:00:00+00:00"}):
        assert code_of(await ask(gateway, ANALYTICS, editor, **bad)) == "BAD_USER_INPUT"
    bad_play = await ask(
        gateway, PLAY, first.token, c="movie:toy-story-1995", d=first.device, s="x"
    )
    assert code_of(bad_play) == "BAD_USER_INPUT"


async def test_rewrites_are_proposed_accepted_and_applied_and_synonyms_managed(
    platform: Platform, gateway: Gateway
) -> None:
    editor_id = uuid.uuid4().hex
    editor = token_for(platform, editor_id, EDITOR_SCOPES)
    failed = f"qxzvbnmk plkjhg {uuid.uuid4().hex[:6]}"
    since = datetime.now(UTC).isoformat()
    for _ in range(2):  # two viewers give up on a query and find the title another way
        who = await viewer(platform, gateway)
        assert (await search(gateway, failed, who, [NOWHERE]))["totalCount"] == 0
        await play(gateway, who, await search(gateway, "toy story", who))
    await deliver_playback_events(platform)

    proposals = (await ask(gateway, PROPOSALS, editor, since=since))["data"][
        "searchRewriteProposals"
    ]
    proposal = next(p for p in proposals if p["fromQuery"] == failed)
    assert proposal == {
        "fromQuery": failed,
        "toQuery": "toy story",
        "rewrites": 2,
        "viewers": 2,
        "fromZeroResults": 2,
        "accepted": False,
    }

    accepted = await ask(
        gateway, CREATE_RULE, editor, term=failed, replacement="Toy Story", kind="REWRITE"
    )
    assert "errors" not in accepted, accepted
    rewrite = accepted["data"]["createSearchSynonym"]
    assert (rewrite["kind"], rewrite["replacement"], rewrite["createdBy"]) == (
        "REWRITE",
        "toy story",
        editor_id,
    )
    rewritten = await search(gateway, failed.upper())  # matched on the normalised query
    assert rewritten["totalCount"] > 0
    assert rewritten["nodes"][0]["id"] == "movie:toy-story-1995"
    assert rewritten["correctedQuery"] == "toy story"
    proposals = (await ask(gateway, PROPOSALS, editor, since=since))["data"][
        "searchRewriteProposals"
    ]
    assert next(p for p in proposals if p["fromQuery"] == failed)["accepted"] is True

    # a synonym replaces a word wherever it stands in a query
    word = f"zqx{uuid.uuid4().hex[:6]}"
    before = await search(gateway, f"{word} 1995")
    assert before["correctedQuery"] != "jumanji 1995"
    created = await ask(
        gateway, CREATE_RULE, editor, term=word, replacement="jumanji", kind="SYNONYM"
    )
    synonym = created["data"]["createSearchSynonym"]
    found = await search(gateway, f"{word} 1995")
    assert found["nodes"][0]["id"] == "movie:jumanji-1995"
    assert found["correctedQuery"] == "jumanji 1995"
    listed = (await ask(gateway, RULES, editor))["data"]["searchSynonyms"]
    assert {(r["kind"], r["term"]) for r in listed} >= {("SYNONYM", word), ("REWRITE", failed)}
    duplicate = await ask(
        gateway, CREATE_RULE, editor, term=word.upper(), replacement="heat", kind="SYNONYM"
    )
    assert code_of(duplicate) == "BAD_USER_INPUT"
    for term, replacement in (("", "heat"), ("heat", " HEAT "), ("x" * 201, "heat")):
        body = await ask(
            gateway, CREATE_RULE, editor, term=term, replacement=replacement, kind="SYNONYM"
        )
        assert code_of(body) == "BAD_USER_INPUT"
    deleted = await ask(gateway, DELETE_RULE, editor, id=synonym["id"])
    assert deleted["data"]["deleteSearchSynonym"] == {"id": synonym["id"], "term": word}
    assert (await search(gateway, f"{word} 1995"))["correctedQuery"] != "jumanji 1995"
    assert code_of(await ask(gateway, DELETE_RULE, editor, id=synonym["id"])) == "NOT_FOUND"

    # every change is in the audit log, with the editor and the rule before or after
    auditor = token_for(platform, uuid.uuid4().hex, ["audit:read"])
    body = await ask(gateway, AUDIT, auditor, filter={"actorId": editor_id})
    assert "errors" not in body, body
    entries = [edge["node"] for edge in body["data"]["auditLog"]["edges"]]
    assert [(e["action"], e["targetId"]) for e in reversed(entries)] == [
        ("search.rewrite.create", rewrite["id"]),
        ("search.synonym.create", synonym["id"]),
        ("search.synonym.delete", synonym["id"]),
    ]
    created_entry, deleted_entry = entries[1], entries[0]
    assert created_entry["after"] == {"kind": "synonym", "term": word, "replacement": "jumanji"}
    assert deleted_entry["before"] == created_entry["after"] and deleted_entry["after"] is None


async def test_searches_older_than_the_retention_are_deleted(
    platform: Platform, gateway: Gateway
) -> None:
    from media_gateway.subgraphs.catalog.search.analytics import RETENTION
    from media_gateway.subgraphs.catalog.search.records import SearchEventRecord

    editor = token_for(platform, uuid.uuid4().hex, EDITOR_SCOPES)
    then = datetime.now(UTC) - RETENTION - timedelta(days=30)
    async with platform.runtime.database.transaction() as session:
        session.add(SearchEventRecord(id=uuid.uuid4().hex, query="an old query", searched_at=then))
    since = datetime.now(UTC).isoformat()
    await search(gateway, "toy story")
    window = {
        "since": (then - timedelta(days=1)).isoformat(),
        "until": (then + timedelta(days=1)).isoformat(),
    }

    def searches(body: dict[str, Any]) -> int:
        return int(body["data"]["searchAnalytics"]["searches"])

    assert searches(await ask(gateway, ANALYTICS, editor, **window)) == 1
    assert await platform["catalog"].service.search_analytics.prune() >= 1
    assert searches(await ask(gateway, ANALYTICS, editor, **window)) == 0
    assert searches(await ask(gateway, ANALYTICS, editor, since=since)) == 1  # recent ones stay


KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")


@pytest.mark.kafka
@pytest.mark.skipif(not KAFKA, reason="TEST_KAFKA_BOOTSTRAP_SERVERS is not set")
async def test_plays_from_searches_arrive_over_kafka(platform: Platform, gateway: Gateway) -> None:
    """In the distributed mode the playback subgraph is another process: its playback events
    reach the catalog's search analytics over Kafka."""
    from aiokafka import AIOKafkaProducer

    from media_gateway.assembly.catalog import PLAYBACK_TOPIC
    from media_gateway.subgraphs.recommendations.kafka import PlaybackEventConsumer

    assert KAFKA
    editor = token_for(platform, uuid.uuid4().hex, EDITOR_SCOPES)
    since = datetime.now(UTC).isoformat()
    who = await viewer(platform, gateway)
    query = f"heat {uuid.uuid4().hex[:6]}"
    found = await search(gateway, query, who)
    consumer = PlaybackEventConsumer(
        KAFKA,
        PLAYBACK_TOPIC,
        platform["catalog"].service.search_analytics.on_playback_event,
        group_id=f"search-analytics-test-{uuid.uuid4().hex[:8]}",
        offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    await consumer.start()
    try:
        event = {
            "type": "started",
            "sessionId": uuid.uuid4().hex,
            "userId": who.id,
            "contentId": "movie:heat-1995",
            "searchId": found["searchId"],
            "occurredAt": datetime.now(UTC).isoformat(),
        }
        await producer.send_and_wait(
            PLAYBACK_TOPIC, json.dumps(event).encode(), key=who.id.encode()
        )
        figures: dict[str, Any] = {}
        for _ in range(60):
            body = await ask(gateway, ANALYTICS, editor, since=since)
            figures = body["data"]["searchAnalytics"]
            if figures["searchesWithPlay"]:
                break
            await asyncio.sleep(0.5)
        played = next(q for q in figures["topQueries"] if q["query"] == query)
        assert played["searchesWithPlay"] == 1
    finally:
        await consumer.stop()
        await producer.stop()
