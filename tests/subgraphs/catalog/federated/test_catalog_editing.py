"""Catalog editing through the gateway: a catalog editor creates, changes, retires and undoes;
a member and a support operator may not; bad input is refused field by field; a stale version
conflicts; search, Kafka and the audit log see each change."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from media_gateway.app import Platform
from media_gateway.assembly.base import Runtime
from media_gateway.platform.settings import Settings

from .conftest import Gateway, token_for

KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP_SERVERS")
# the first platform of a test session builds the search index of the demo catalog
pytestmark = pytest.mark.timeout(600)

CHANGE = "id entityType entityId version action actorId changedFields before after undoesChangeId"
CREATE = f"""
mutation($input: CreateTitleInput!) {{ createTitle(input: $input) {{ {CHANGE}
  content {{ id title year contentRating genres retiredAt }} }} }}
"""
UPDATE = f"""
mutation($id: ID!, $v: Int!, $changes: TitleChangesInput!) {{
  updateTitle(id: $id, expectedVersion: $v, changes: $changes) {{ {CHANGE}
  content {{ id title year runtime contentRating genres }} }} }}
"""
RETIRE = (
    f"mutation($id: ID!, $v: Int!) {{ retireTitle(id: $id, expectedVersion: $v) {{ {CHANGE} }} }}"
)
AVAILABILITY = f"""
mutation($id: ID!, $v: Int!, $offers: [OfferInput!]!) {{
  setTitleAvailability(id: $id, expectedVersion: $v, offers: $offers) {{ {CHANGE}
  content {{ availability {{ platform region offerType price currency quality deepLink
  leavesAt isDemoData }} }} }} }}
"""
CREDITS = f"""
mutation($id: ID!, $v: Int!, $credits: [CreditInput!]!) {{
  setTitleCredits(id: $id, expectedVersion: $v, credits: $credits) {{ {CHANGE}
  content {{ cast {{ character person {{ id name }} }} crew {{ job person {{ name }} }} }} }} }}
"""
PERSON = (
    f"mutation($name: String!) {{ createPerson(name: $name) {{ {CHANGE} person {{ id name }} }} }}"
)
RENAME = f"""
mutation($id: ID!, $v: Int!, $name: String!) {{
  updatePerson(id: $id, expectedVersion: $v, name: $name) {{ {CHANGE} }} }}
"""
UNDO = f"""
mutation($id: ID!) {{ undoCatalogChange(versionId: $id) {{ {CHANGE}
  content {{ title year retiredAt }} }} }}
"""
HISTORY = """
query($id: ID!) { catalogHistory(id: $id) { entityType entityId currentVersion
  changes { id version action changedFields undoesChangeId } } }
"""
SEARCH = "query($q: String!) { search(query: $q, first: 50) { nodes { id title } } }"
CONTENT = """
query($id: ID!) { content(id: $id) { id title retiredAt
  ... on Series { seasons { id seasonNumber episodes { id title episodeNumber } } } } }
"""


def word() -> str:
    """A made-up word no title of the catalog has."""
    return "".join(random.choice(string.ascii_lowercase) for _ in range(9))


def data(body: dict[str, Any], field: str) -> Any:
    assert "errors" not in body, body
    return body["data"][field]


def codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def field_errors(body: dict[str, Any]) -> dict[str, str]:
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    return {e["field"]: e["message"] for e in error["extensions"]["fieldErrors"]}


async def found(gateway: Gateway, query: str) -> list[str]:
    """The titles search finds, best first."""
    return [n["title"] for n in data(await gateway(SEARCH, q=query), "search")["nodes"]]


async def completed(gateway: Gateway, prefix: str) -> list[str]:
    """What autocomplete offers for ``prefix``."""
    body = await gateway("query($p: String!) { autocomplete(prefix: $p) { text } }", p=prefix)
    return [s["text"] for s in data(body, "autocomplete")]


AUDIT = """
query($id: String!) { auditLog(filter: {targetId: $id, actionPrefix: "catalog."}, first: 50) {
  edges { node { actorId action targetType targetId before after detail } } } }
"""


async def audit(gateway: Gateway, platform: Platform, target: str) -> list[dict[str, Any]]:
    """The audit log's entries about ``target``, oldest first, as an admin reads them."""
    body = await gateway(AUDIT, token_for(platform, "admin"), id=target)
    return [edge["node"] for edge in reversed(data(body, "auditLog")["edges"])]


async def new_movie(gateway: Gateway, editor: str, **fields: Any) -> dict[str, Any]:
    name = f"The {word().capitalize()} Affair"
    body = await gateway(
        CREATE,
        editor,
        input={"kind": "MOVIE", "title": name, "year": 2021, "contentRating": "pg13", **fields},
    )
    return dict(data(body, "createTitle"))


async def test_an_editor_creates_changes_and_undoes_a_title(
    platform: Platform, gateway: Gateway
) -> None:
    editor = token_for(platform, "catalog_editor", f"editor-{uuid.uuid4().hex[:8]}")
    keyword = word()
    created = await new_movie(gateway, editor, genres=["Drama", "Mystery"], synopsis=keyword)
    title_id = created["entityId"]
    assert created["version"] == 1 and created["action"] == "catalog.title.create"
    assert created["before"] is None and created["content"]["contentRating"] == "PG-13"
    assert created["content"]["genres"] == ["Drama", "Mystery"]
    first_title = created["content"]["title"]
    assert (await found(gateway, first_title))[:1] == [first_title]  # the search index has it

    renamed = f"The {word().capitalize()} Returns"
    body = await gateway(
        UPDATE, editor, id=title_id, v=1, changes={"title": renamed, "runtime": 104}
    )
    updated = data(body, "updateTitle")
    assert updated["version"] == 2 and set(updated["changedFields"]) == {"title", "runtime_minutes"}
    assert updated["before"]["title"] == first_title and updated["after"]["title"] == renamed
    assert updated["content"]["year"] == 2021  # fields not given keep their value
    assert (await found(gateway, renamed))[:1] == [renamed]
    assert first_title not in await found(gateway, first_title)

    undone = data(await gateway(UNDO, editor, id=updated["id"]), "undoCatalogChange")
    assert undone["version"] == 3 and undone["undoesChangeId"] == updated["id"]
    assert undone["action"] == "catalog.title.undo" and undone["after"] == created["after"]
    assert undone["content"]["title"] == first_title
    assert (await found(gateway, first_title))[:1] == [first_title]

    history = data(await gateway(HISTORY, editor, id=title_id), "catalogHistory")
    assert history["currentVersion"] == 3 and history["entityType"] == "TITLE"
    assert [c["action"] for c in history["changes"]] == [
        "catalog.title.undo",
        "catalog.title.update",
        "catalog.title.create",
    ]

    entries = await audit(gateway, platform, title_id)
    assert [e["action"] for e in entries] == [
        "catalog.title.create",
        "catalog.title.update",
        "catalog.title.undo",
    ]
    assert all(e["actorId"] == updated["actorId"] for e in entries)
    assert all(e["targetType"] == "catalog_title" for e in entries)
    assert entries[0]["before"] is None and entries[0]["after"]["title"] == first_title
    assert entries[1]["before"]["title"] == first_title
    assert entries[1]["after"]["title"] == renamed
    assert entries[1]["detail"]["version"] == 2
    assert entries[2]["before"]["title"] == renamed
    assert entries[2]["after"]["title"] == first_title
    assert entries[2]["detail"]["undoes_version_id"] == int(updated["id"])


async def test_members_and_support_may_not_edit(platform: Platform, gateway: Gateway) -> None:
    editor = token_for(platform, "catalog_editor")
    title_id = (await new_movie(gateway, editor))["entityId"]
    attempts: list[tuple[str, dict[str, Any]]] = [
        (CREATE, {"input": {"kind": "MOVIE", "title": "Refused"}}),
        (UPDATE, {"id": title_id, "v": 1, "changes": {"title": "Refused"}}),
        (RETIRE, {"id": title_id, "v": 1}),
        (AVAILABILITY, {"id": title_id, "v": 1, "offers": []}),
        (CREDITS, {"id": title_id, "v": 1, "credits": []}),
        (PERSON, {"name": "Refused"}),
        (RENAME, {"id": "person:refused", "v": 0, "name": "Refused"}),
        (UNDO, {"id": "1"}),
        (HISTORY, {"id": title_id}),
    ]
    for role in ("member", "support"):
        token = token_for(platform, role)
        for operation, variables in attempts:
            body = await gateway(operation, token, **variables)
            assert codes(body) == ["FORBIDDEN"], (role, operation, body)
    for operation, variables in attempts:
        assert codes(await gateway(operation, None, **variables)) == ["UNAUTHENTICATED"]
    history = data(await gateway(HISTORY, editor, id=title_id), "catalogHistory")
    assert history["currentVersion"] == 1  # nothing refused was written
    admin = token_for(platform, "admin")
    retired = await gateway(RETIRE, admin, id=title_id, v=1)
    assert data(retired, "retireTitle")["version"] == 2  # an admin holds catalog:write too


async def test_the_catalog_subgraph_refuses_members_itself(platform: Platform) -> None:
    """Behind the router and without it: the subgraph enforces catalog:write on its own."""
    import httpx

    app = platform["catalog"].asgi_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://catalog"
    ) as http:
        name = f"Direct {word()}"

        async def post(token: str) -> Any:
            response = await http.post(
                "/graphql",
                json={
                    "query": CREATE,
                    "variables": {"input": {"kind": "MOVIE", "title": name}},
                },
                headers={"authorization": f"Bearer {token}"},
            )
            return response.json()

        assert codes(await post(token_for(platform, "member"))) == ["FORBIDDEN"]
        assert codes(await post(token_for(platform, "support"))) == ["FORBIDDEN"]
        created = await post(token_for(platform, "catalog_editor"))
        assert data(created, "createTitle")["after"]["title"] == name


async def test_bad_input_is_refused_field_by_field(platform: Platform, gateway: Gateway) -> None:
    editor = token_for(platform, "catalog_editor")
    body = await gateway(
        CREATE,
        editor,
        input={
            "kind": "MOVIE",
            "title": " ",
            "year": 1700,
            "runtime": 0,
            "contentRating": "XXX",
            "imdbId": "nm123",
        },
    )
    errors = field_errors(body)
    assert set(errors) == {"title", "year", "runtime", "contentRating", "imdbId"}
    assert "PG-13" in errors["contentRating"]  # the rating scale is named
    body = await gateway(
        CREATE, editor, input={"kind": "EPISODE", "title": "Orphan", "episodeNumber": 1}
    )
    assert set(field_errors(body)) == {"parentId"}

    title_id = (await new_movie(gateway, editor))["entityId"]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    offers = [
        {"platform": "Netflix", "region": "XK", "offerType": "SUBSCRIPTION",
         "deepLink": "https://www.netflix.example/title/1"},
        {"platform": "Netflix", "region": "us", "offerType": "RENT",
         "deepLink": "javascript:alert(1)", "currency": "dollars"},
        {"platform": "Hulu", "region": "GB", "offerType": "BUY", "price": 9.99, "currency": "GBP",
         "deepLink": "http://hulu.example/watch", "leavesAt": past, "quality": "8K"},
        {"platform": "Hulu", "region": "GB", "offerType": "BUY", "price": 9.99, "currency": "GBP",
         "deepLink": "hulu://watch/1"},
    ]  # fmt: skip
    errors = field_errors(await gateway(AVAILABILITY, editor, id=title_id, v=1, offers=offers))
    assert set(errors) == {
        "offers[0].region",
        "offers[1].deepLink",
        "offers[1].price",
        "offers[1].currency",
        "offers[2].deepLink",
        "offers[2].leavesAt",
        "offers[2].quality",
        "offers[3]",
    }
    assert "ISO 3166" in errors["offers[0].region"] and "https" in errors["offers[2].deepLink"]

    errors = field_errors(
        await gateway(
            CREDITS,
            editor,
            id=title_id,
            v=1,
            credits=[{"personId": "person:nobody-at-all", "role": "CREW"}],
        )
    )
    assert set(errors) == {"credits[0].personId", "credits[0].job"}
    body = await gateway(UPDATE, editor, id="movie:no-such-title", v=0, changes={"year": 2000})
    assert codes(body) == ["NOT_FOUND"]
    history = data(await gateway(HISTORY, editor, id=title_id), "catalogHistory")
    assert history["currentVersion"] == 1  # nothing invalid was written


async def test_a_stale_version_conflicts(platform: Platform, gateway: Gateway) -> None:
    editor = token_for(platform, "catalog_editor")
    title_id = (await new_movie(gateway, editor))["entityId"]
    first = await gateway(UPDATE, editor, id=title_id, v=1, changes={"year": 2019})
    assert data(first, "updateTitle")["version"] == 2
    stale = await gateway(UPDATE, editor, id=title_id, v=1, changes={"year": 2018})
    assert codes(stale) == ["CONFLICT"]
    assert stale["errors"][0]["extensions"]["currentVersion"] == 2

    # two editors starting from the same version at the same time: exactly one lands
    racing = await asyncio.gather(
        gateway(UPDATE, editor, id=title_id, v=2, changes={"year": 2017}),
        gateway(UPDATE, editor, id=title_id, v=2, changes={"runtime": 99}),
    )
    assert sorted(codes(b)[0] if "errors" in b else "ok" for b in racing) == ["CONFLICT", "ok"]

    # an undo of a change that is no longer the latest conflicts too
    history = data(await gateway(HISTORY, editor, id=title_id), "catalogHistory")
    assert history["currentVersion"] == 3
    older = history["changes"][1]["id"]
    assert codes(await gateway(UNDO, editor, id=older)) == ["CONFLICT"]


async def test_retiring_hides_a_title_from_browsing_but_not_by_id(
    platform: Platform, gateway: Gateway
) -> None:
    editor = token_for(platform, "catalog_editor")
    created = await new_movie(gateway, editor, genres=["Western"])
    title_id, name = created["entityId"], created["content"]["title"]
    assert (await found(gateway, name))[:1] == [name]
    assert name in await completed(gateway, name)
    retired = data(await gateway(RETIRE, editor, id=title_id, v=1), "retireTitle")
    assert retired["changedFields"] == ["retired"]
    assert name not in await found(gateway, name)
    assert name not in await completed(gateway, name)
    by_id = data(await gateway(CONTENT, id=title_id), "content")
    assert by_id["title"] == name and by_id["retiredAt"] is not None
    again = await gateway(RETIRE, editor, id=title_id, v=2)
    assert set(field_errors(again)) == {"id"}
    # undoing the retirement lists it again
    restored = data(await gateway(UNDO, editor, id=retired["id"]), "undoCatalogChange")
    assert restored["content"]["retiredAt"] is None
    assert (await found(gateway, name))[:1] == [name]
    entries = await audit(gateway, platform, title_id)
    assert [e["action"] for e in entries] == [
        "catalog.title.create",
        "catalog.title.retire",
        "catalog.title.undo",
    ]
    assert [(e["before"]["retired"], e["after"]["retired"]) for e in entries[1:]] == [
        (False, True),
        (True, False),
    ]


async def test_series_seasons_episodes_credits_and_people(
    platform: Platform, gateway: Gateway
) -> None:
    editor = token_for(platform, "catalog_editor")
    series_name = f"{word().capitalize()} Street"
    series = data(
        await gateway(CREATE, editor, input={"kind": "SERIES", "title": series_name, "year": 2020}),
        "createTitle",
    )
    season = data(
        await gateway(
            CREATE,
            editor,
            input={"kind": "SEASON", "title": "Season 1", "parentId": series["entityId"],
                   "seasonNumber": 1},
        ),
        "createTitle",
    )  # fmt: skip
    episode = data(
        await gateway(
            CREATE,
            editor,
            input={"kind": "EPISODE", "title": "Pilot", "parentId": season["entityId"],
                   "episodeNumber": 1, "runtime": 44},
        ),
        "createTitle",
    )  # fmt: skip
    assert season["entityId"] == f"{series['entityId']}:s01"
    assert episode["entityId"] == f"{series['entityId']}:s01e01"
    tree = data(await gateway(CONTENT, id=series["entityId"]), "content")
    assert tree["seasons"] == [
        {
            "id": season["entityId"],
            "seasonNumber": 1,
            "episodes": [{"id": episode["entityId"], "title": "Pilot", "episodeNumber": 1}],
        }
    ]

    actor_name, director_name = f"{word().capitalize()} Actor", f"{word().capitalize()} Director"
    actor = data(await gateway(PERSON, editor, name=actor_name), "createPerson")
    director = data(await gateway(PERSON, editor, name=director_name), "createPerson")
    assert actor["person"]["name"] == actor_name and actor["entityType"] == "PERSON"
    credits = [
        {"personId": actor["entityId"], "role": "CAST", "character": "The Neighbour"},
        {"personId": director["entityId"], "role": "CREW", "job": "Director"},
    ]
    body = await gateway(CREDITS, editor, id=series["entityId"], v=1, credits=credits)
    content = data(body, "setTitleCredits")["content"]
    assert content["cast"] == [
        {"character": "The Neighbour", "person": {"id": actor["entityId"], "name": actor_name}}
    ]
    assert content["crew"] == [{"job": "Director", "person": {"name": director_name}}]
    assert series_name in await found(gateway, actor_name)  # people are searchable
    [*_, credited] = await audit(gateway, platform, series["entityId"])
    assert credited["action"] == "catalog.title.credits" and credited["before"]["credits"] == []
    assert [c["person_id"] for c in credited["after"]["credits"]] == [
        actor["entityId"],
        director["entityId"],
    ]

    renamed = f"{word().capitalize()} Performer"
    body = await gateway(RENAME, editor, id=actor["entityId"], v=1, name=renamed)
    assert data(body, "updatePerson")["version"] == 2
    assert series_name in await found(gateway, renamed)
    entries = await audit(gateway, platform, actor["entityId"])
    assert [(e["action"], e["before"], e["after"]) for e in entries] == [
        ("catalog.person.create", None, {"name": actor_name}),
        ("catalog.person.update", {"name": actor_name}, {"name": renamed}),
    ]


async def test_availability_is_edited_and_undone(platform: Platform, gateway: Gateway) -> None:
    editor = token_for(platform, "catalog_editor")
    title_id = (await new_movie(gateway, editor))["entityId"]
    leaves = (datetime.now(UTC) + timedelta(days=20)).replace(microsecond=0)
    offers = [
        {"platform": "Netflix", "region": "us", "offerType": "SUBSCRIPTION", "quality": "uhd",
         "deepLink": "https://www.netflix.example/title/7", "leavesAt": leaves.isoformat()},
        {"platform": "Prime Video", "region": "DE", "offerType": "RENT", "price": 3.99,
         "currency": "eur", "deepLink": "primevideo://detail/7"},
    ]  # fmt: skip
    change = data(
        await gateway(AVAILABILITY, editor, id=title_id, v=1, offers=offers),
        "setTitleAvailability",
    )
    assert (
        change["changedFields"] == ["offers"] and change["action"] == "catalog.title.availability"
    )
    assert change["content"]["availability"] == [
        {"platform": "Netflix", "region": "US", "offerType": "SUBSCRIPTION", "price": None,
         "currency": None, "quality": "UHD", "deepLink": "https://www.netflix.example/title/7",
         "leavesAt": leaves.isoformat(), "isDemoData": False},
        {"platform": "Prime Video", "region": "DE", "offerType": "RENT", "price": 3.99,
         "currency": "EUR", "quality": "HD", "deepLink": "primevideo://detail/7",
         "leavesAt": None, "isDemoData": False},
    ]  # fmt: skip
    undone = data(await gateway(UNDO, editor, id=change["id"]), "undoCatalogChange")
    assert undone["after"]["offers"] == []
    body = await gateway(
        "query($id: ID!) { content(id: $id) { availability { platform } } }", id=title_id
    )
    assert data(body, "content")["availability"] == []
    [_, availability, undo] = await audit(gateway, platform, title_id)
    assert availability["action"] == "catalog.title.availability"
    assert availability["before"]["offers"] == [] and len(availability["after"]["offers"]) == 2
    assert undo["action"] == "catalog.title.undo" and undo["after"]["offers"] == []


@pytest.mark.kafka
@pytest.mark.skipif(not KAFKA, reason="TEST_KAFKA_BOOTSTRAP_SERVERS is not set")
async def test_edits_reach_kafka_as_catalog_events(settings: Settings) -> None:
    """The catalog's relay publishes an edit's events to the broker, as it does ingestion's."""
    from aiokafka import AIOKafkaConsumer

    from media_gateway.app.serve import build_gateway_app
    from media_gateway.subgraphs.catalog.outbox import AVAILABILITY_TOPIC, CONTENT_TOPIC

    from .conftest import supergraph

    assert KAFKA
    platform = Platform.create(
        Runtime.create(dataclasses.replace(settings, kafka_bootstrap_servers=KAFKA))
    )
    await platform.startup()
    consumer = AIOKafkaConsumer(
        CONTENT_TOPIC,
        AVAILABILITY_TOPIC,
        bootstrap_servers=KAFKA,
        group_id=f"catalog-editing-test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        import httpx

        app = build_gateway_app(platform, supergraph(), graphiql=False)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            base_url="http://gw",
        ) as http:
            gateway = Gateway(http)
            editor = token_for(platform, "catalog_editor")
            title_id = (await new_movie(gateway, editor))["entityId"]
            offers = [
                {"platform": "Peacock", "region": "US", "offerType": "FREE",
                 "deepLink": "https://www.peacock.example/watch/1"}
            ]  # fmt: skip
            await gateway(AVAILABILITY, editor, id=title_id, v=1, offers=offers)
            await gateway(RETIRE, editor, id=title_id, v=2)
        seen: list[tuple[str, dict[str, Any]]] = []
        wanted = {"new", "retired", "offer"}
        async with asyncio.timeout(60):
            while wanted:
                message = await consumer.getone()
                if message.key is None or message.key.decode() != title_id:
                    continue
                payload = json.loads(message.value)
                seen.append((message.topic, payload))
                if message.topic == AVAILABILITY_TOPIC:
                    wanted.discard("offer")
                else:
                    wanted.discard(payload["change"])
        content = [p for t, p in seen if t == CONTENT_TOPIC]
        assert [p["change"] for p in content] == ["new", "updated", "retired"]
        assert all(p["content_id"] == title_id and p["source"] == "editor" for p in content)
        [offer] = [p for t, p in seen if t == AVAILABILITY_TOPIC]
        assert offer["change"] == "new" and offer["platform"] == "Peacock"
        assert offer["region"] == "US" and offer["offer_type"] == "free"
    finally:
        await consumer.stop()
        await platform.shutdown()


async def test_undoing_a_person_s_creation_removes_them_unless_credited(
    platform: Platform, gateway: Gateway
) -> None:
    editor = token_for(platform, "catalog_editor")
    lone = data(await gateway(PERSON, editor, name=f"{word().capitalize()} Extra"), "createPerson")
    undone = data(await gateway(UNDO, editor, id=lone["id"]), "undoCatalogChange")
    assert undone["before"] == lone["after"] and undone["after"] is None
    body = await gateway("query($id: ID!) { person(id: $id) { id } }", id=lone["entityId"])
    assert data(body, "person") is None

    credited = data(
        await gateway(PERSON, editor, name=f"{word().capitalize()} Star"), "createPerson"
    )
    title_id = (await new_movie(gateway, editor))["entityId"]
    cast = [{"personId": credited["entityId"], "role": "CAST", "character": "Lead"}]
    assert "errors" not in await gateway(CREDITS, editor, id=title_id, v=1, credits=cast)
    refused = await gateway(UNDO, editor, id=credited["id"])
    assert set(field_errors(refused)) == {"versionId"}
    body = await gateway("query($id: ID!) { person(id: $id) { name } }", id=credited["entityId"])
    assert data(body, "person")["name"] == credited["after"]["name"]
