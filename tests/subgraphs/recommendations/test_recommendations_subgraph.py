"""The recommendations subgraph on its own: trending, similar titles and a member's picks as
entity fields, experiments guarded by the admin scope, and playback events it learns from."""

from __future__ import annotations

import uuid
from typing import Any

from media_gateway.assembly.base import Subgraph
from media_gateway.auth.scopes import SESSION_SCOPES
from media_gateway.auth.tokens import token_service
from media_gateway.platform.demo import DEMO_HISTORY, DEMO_USER_ID
from media_gateway.platform.events import Event

from .conftest import GraphQLClient

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { __typename %s } }"
PICKS = ENTITIES % (
    "... on User { recommendations(first: 5) { content { id } reasonKind basedOn { id } } }"
)
SIMILAR = ENTITIES % "... on Content { id similar(first: 3) { id } }"


def token_for(subgraph: Subgraph, user_id: str, scopes: Any = SESSION_SCOPES) -> str:
    token, _ = token_service(subgraph.runtime.settings).issue_access_token(
        user_id, scopes=tuple(scopes)
    )
    return token


def user(user_id: str) -> dict[str, Any]:
    return {"r": [{"__typename": "User", "id": user_id}]}


async def test_trending_answers_title_ids(client: GraphQLClient) -> None:
    body = await client("{ trending(first: 5) { id } }")
    assert "errors" not in body, body
    assert len(body["data"]["trending"]) == 5


async def test_the_demo_member_gets_picks_from_its_history(
    subgraph: Subgraph, client: GraphQLClient
) -> None:
    body = await client(PICKS, user(DEMO_USER_ID), token=token_for(subgraph, DEMO_USER_ID))
    assert "errors" not in body, body
    picks = body["data"]["_entities"][0]["recommendations"]
    history = {content_id for content_id, *_ in DEMO_HISTORY}
    assert len(picks) == 5 and picks[0]["reasonKind"] == "WATCHED_SIMILAR"
    assert not history & {p["content"]["id"] for p in picks}
    assert {p["basedOn"]["id"] for p in picks if p["basedOn"]} <= history


async def test_similar_titles_of_a_watched_title(client: GraphQLClient) -> None:
    body = await client(SIMILAR, {"r": [{"__typename": "Content", "id": "movie:inception-2010"}]})
    assert "errors" not in body, body
    [content] = body["data"]["_entities"]
    assert content["similar"] and "movie:inception-2010" not in {
        s["id"] for s in content["similar"]
    }


async def test_experiments_need_the_admin_scope(subgraph: Subgraph, client: GraphQLClient) -> None:
    create = """mutation($id: ID!) { createRecommendationExperiment(id: $id, name: "Blend",
      variants: [{name: "a", share: 0.5}, {name: "b", share: 0.5}]) { id } }"""
    member = token_for(subgraph, uuid.uuid4().hex)
    refused = await client(create, {"id": f"exp-{uuid.uuid4().hex[:8]}"}, token=member)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    missing = await client(
        '{ experimentResults(id: "no-such-experiment") { id } }',
        token=token_for(subgraph, uuid.uuid4().hex, scopes=["recommendations:admin"]),
    )
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_finished_playback_becomes_history(
    subgraph: Subgraph, client: GraphQLClient
) -> None:
    member = uuid.uuid4().hex
    token = token_for(subgraph, member)
    before = (await client(PICKS, user(member), token=token))["data"]["_entities"][0]
    assert all(p["reasonKind"] == "POPULAR" for p in before["recommendations"])
    event = {
        "type": "ended",
        "sessionId": uuid.uuid4().hex,
        "userId": member,
        "contentId": "movie:the-matrix-1999",
        "positionSeconds": 8160,
        "completed": True,
        "occurredAt": "2024-06-01T00:00:00+00:00",
    }
    await subgraph.runtime.events.publish(Event("playback.events", member, event))
    after = (await client(PICKS, user(member), token=token))["data"]["_entities"][0]
    assert after["recommendations"][0]["reasonKind"] == "WATCHED_SIMILAR"
    assert "movie:the-matrix-1999" not in {p["content"]["id"] for p in after["recommendations"]}
