"""Recommendation experiments run through the gateway (in-process): created as a draft,
started, stopped, started again and concluded; what each state allows; results per variant
with their intervals and the difference between variants; an audit entry for every change.

Only ``recommendations:admin`` (admins) may; a member, a support agent or a catalog editor
may not."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from media_gateway.app import Platform
from media_gateway.auth.scopes import SESSION_SCOPES, role_scopes
from media_gateway.auth.tokens import token_service

Gateway = httpx.AsyncClient

# what a session of an account with each role holds
ADMIN_SCOPES = sorted(role_scopes("admin"))
SUPPORT_SCOPES = sorted(role_scopes("support"))
EDITOR_SCOPES = sorted(role_scopes("catalog_editor"))


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


STATE = "id state active winner createdAt startedAt stoppedAt concludedAt"
CREATE = f"""
mutation($id: ID!, $start: Boolean!) {{ createRecommendationExperiment(id: $id,
  name: "Blend weighting", start: $start, variants: [{{name: "control", share: 0.5}},
  {{name: "sequence-heavy", share: 0.5, weights: {{sequence: 3.0}}}}]) {{ {STATE} }} }}
"""
START = f"mutation($id: ID!) {{ startRecommendationExperiment(id: $id) {{ {STATE} }} }}"
STOP = f"mutation($id: ID!) {{ stopRecommendationExperiment(id: $id) {{ {STATE} }} }}"
CONCLUDE = f"""
mutation($id: ID!, $winner: String) {{
  concludeRecommendationExperiment(id: $id, winner: $winner) {{ {STATE} }} }}
"""
RESULTS = f"""
query($id: ID!) {{ experimentResults(id: $id) {{ {STATE} exposures
  variants {{ name share members exposures rates {{ kind count rate low high }} }}
  comparisons {{ variant control kind difference low high }} }} }}
"""
REGISTER = """
mutation($email: String!) { register(input: {email: $email, password: "correct horse battery",
  displayName: "A Viewer"}) { id } }
"""
RECS = """
query { me { recommendations(first: 4) { content { id } experimentId variant } } }
"""
CLICK = "mutation($c: ID!) { recordRecommendationOutcome(contentId: $c, kind: CLICK) }"
AUDIT = """
query($filter: AuditLogFilter) { auditLog(filter: $filter, first: 50) {
  edges { node { action actorId targetType targetId before after } } } }
"""


async def served_experiments(gateway: Gateway, tokens: list[str]) -> set[str | None]:
    found: set[str | None] = set()
    for token in tokens:
        recs = (await ask(gateway, RECS, token))["data"]["me"]["recommendations"]
        found |= {r["experimentId"] for r in recs}
    return found


async def test_experiment_control_needs_the_admin_scope(
    platform: Platform, gateway: Gateway
) -> None:
    experiment = f"scope-{uuid.uuid4().hex[:8]}"
    admin = token_for(platform, uuid.uuid4().hex, ADMIN_SCOPES)
    refused_callers = [
        token_for(platform, uuid.uuid4().hex),  # a member
        token_for(platform, uuid.uuid4().hex, SUPPORT_SCOPES),
        token_for(platform, uuid.uuid4().hex, EDITOR_SCOPES),
    ]
    operations: list[tuple[str, dict[str, Any]]] = [
        (CREATE, {"id": experiment, "start": False}),
        (START, {"id": experiment}),
        (STOP, {"id": experiment}),
        (CONCLUDE, {"id": experiment}),
        (RESULTS, {"id": experiment}),
    ]
    for query, variables in operations:
        assert code_of(await ask(gateway, query, None, **variables)) == "UNAUTHENTICATED"
        for token in refused_callers:
            assert code_of(await ask(gateway, query, token, **variables)) == "FORBIDDEN"
    # nothing was created by the refused calls
    assert code_of(await ask(gateway, RESULTS, admin, id=experiment)) == "NOT_FOUND"
    assert code_of(await ask(gateway, START, admin, id=experiment)) == "NOT_FOUND"


async def test_experiment_lifecycle_results_and_audit(platform: Platform, gateway: Gateway) -> None:
    experiment = f"blend-{uuid.uuid4().hex[:8]}"
    admin_id = uuid.uuid4().hex
    admin = token_for(platform, admin_id, ADMIN_SCOPES)
    members = []
    for _ in range(8):
        email = f"viewer-{uuid.uuid4().hex[:10]}@example.com"
        user = (await ask(gateway, REGISTER, email=email))["data"]["register"]["id"]
        members.append(token_for(platform, user))
    try:
        created = await ask(gateway, CREATE, admin, id=experiment, start=False)
        draft = created["data"]["createRecommendationExperiment"]
        assert (draft["state"], draft["active"], draft["startedAt"]) == ("DRAFT", False, None)
        assert experiment not in await served_experiments(gateway, members[:2])
        refused = await ask(gateway, STOP, admin, id=experiment)
        assert code_of(refused) == "CONFLICT"
        assert refused["errors"][0]["extensions"]["state"] == "DRAFT"
        again = await ask(gateway, CREATE, admin, id=experiment, start=True)
        assert code_of(again) == "BAD_USER_INPUT"  # the id is taken

        running = (await ask(gateway, START, admin, id=experiment))["data"][
            "startRecommendationExperiment"
        ]
        assert (running["state"], running["active"]) == ("RUNNING", True)
        assert running["startedAt"] is not None
        variant_of: dict[str, str] = {}
        served = 0
        for token in members:
            recs = (await ask(gateway, RECS, token))["data"]["me"]["recommendations"]
            assert {r["experimentId"] for r in recs} == {experiment}
            variant_of[token] = recs[0]["variant"]
            served += len(recs)
            clicked = await ask(gateway, CLICK, token, c=recs[0]["content"]["id"])
            assert clicked["data"]["recordRecommendationOutcome"] == 1

        results = (await ask(gateway, RESULTS, admin, id=experiment))["data"]["experimentResults"]
        assert results["exposures"] == served
        by_name = {v["name"]: v for v in results["variants"]}
        assert set(by_name) == {"control", "sequence-heavy"}
        assert sum(v["members"] for v in by_name.values()) == len(members)
        for name, variant in by_name.items():
            click = next(r for r in variant["rates"] if r["kind"] == "click")
            assert click["count"] == sum(1 for v in variant_of.values() if v == name)
            if variant["exposures"]:
                assert click["rate"] == pytest.approx(click["count"] / variant["exposures"])
                assert click["low"] <= click["rate"] <= click["high"]
        comparisons = {c["kind"]: c for c in results["comparisons"]}
        assert set(comparisons) == {"click", "play", "finish"}
        click_difference = comparisons["click"]
        assert (click_difference["variant"], click_difference["control"]) == (
            "sequence-heavy",
            "control",
        )
        rate = {
            name: next(r["rate"] for r in v["rates"] if r["kind"] == "click")
            for name, v in by_name.items()
        }
        assert click_difference["difference"] == pytest.approx(
            rate["sequence-heavy"] - rate["control"], abs=1e-6
        )
        assert click_difference["low"] <= click_difference["difference"]
        assert click_difference["difference"] <= click_difference["high"]
        assert click_difference["low"] >= -1 and click_difference["high"] <= 1

        stopped = (await ask(gateway, STOP, admin, id=experiment))["data"][
            "stopRecommendationExperiment"
        ]
        assert (stopped["state"], stopped["active"]) == ("STOPPED", False)
        assert stopped["stoppedAt"] is not None
        assert experiment not in await served_experiments(gateway, members[:2])
        restarted = await ask(gateway, START, admin, id=experiment)
        assert restarted["data"]["startRecommendationExperiment"]["state"] == "RUNNING"
        unknown_winner = await ask(gateway, CONCLUDE, admin, id=experiment, winner="nobody")
        assert code_of(unknown_winner) == "BAD_USER_INPUT"
        concluded = (await ask(gateway, CONCLUDE, admin, id=experiment, winner="sequence-heavy"))[
            "data"
        ]["concludeRecommendationExperiment"]
        assert (concluded["state"], concluded["active"], concluded["winner"]) == (
            "CONCLUDED",
            False,
            "sequence-heavy",
        )
        assert concluded["concludedAt"] is not None
        assert experiment not in await served_experiments(gateway, members[:2])
        for refused_change in (START, STOP, CONCLUDE):
            body = await ask(gateway, refused_change, admin, id=experiment)
            assert code_of(body) == "CONFLICT"
            assert body["errors"][0]["extensions"]["state"] == "CONCLUDED"
        # the results stay readable after the end
        final = (await ask(gateway, RESULTS, admin, id=experiment))["data"]["experimentResults"]
        assert final["exposures"] == served and final["winner"] == "sequence-heavy"
    finally:
        await ask(gateway, STOP, admin, id=experiment)
        platform["recommendations"].service.training.invalidate()

    body = await ask(
        gateway,
        AUDIT,
        admin,
        filter={"targetType": "recommendation_experiment", "targetId": experiment},
    )
    assert "errors" not in body, body
    entries = [edge["node"] for edge in reversed(body["data"]["auditLog"]["edges"])]
    assert [e["action"] for e in entries] == [
        "experiment.create",
        "experiment.start",
        "experiment.stop",
        "experiment.start",
        "experiment.conclude",
    ]
    assert {e["actorId"] for e in entries} == {admin_id}
    create, start, stop, restart, conclude = entries
    assert create["before"] is None and create["after"]["state"] == "draft"
    assert [v["name"] for v in create["after"]["variants"]] == ["control", "sequence-heavy"]
    assert (start["before"]["state"], start["after"]["state"]) == ("draft", "running")
    assert (stop["before"]["state"], stop["after"]["state"]) == ("running", "stopped")
    assert restart["after"]["state"] == "running"
    assert conclude["before"]["winner"] is None
    assert conclude["after"] == {
        **conclude["before"],
        "state": "concluded",
        "winner": "sequence-heavy",
    }
