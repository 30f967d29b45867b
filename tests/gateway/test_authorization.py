"""@authenticated and @requiresScopes enforced by the gateway for any supergraph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import strawberry

from media_gateway.composition import SubgraphSource, compose_or_raise
from media_gateway.gateway.authorization import ANONYMOUS, Principal
from media_gateway.gateway.clients import InProcessClient, SubgraphRequest
from media_gateway.gateway.server import create_app

SUBGRAPH_SDL = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.5",
                    import: ["@key", "@authenticated", "@requiresScopes"])
type Query {
  public: String
  me: Account @authenticated
  accounts: [Account]!
}
type Account @key(fields: "id") {
  id: ID!
  name: String
  email: String @requiresScopes(scopes: [["accounts:read"], ["admin"]])
  secretCode: String! @authenticated
}
"""


@strawberry.federation.type(keys=["id"])
class Account:
    id: strawberry.ID
    name: str | None
    email: str | None
    secret_code: str


ACCOUNTS = [
    Account(id=strawberry.ID("1"), name="Reader One", email="one@example.test", secret_code="s1"),
    Account(id=strawberry.ID("2"), name="Reader Two", email="two@example.test", secret_code="s2"),
]


@strawberry.type
class Query:
    @strawberry.field
    def public(self) -> str | None:
        return "hello"

    @strawberry.field
    def me(self) -> Account | None:
        return ACCOUNTS[0]

    @strawberry.field
    def accounts(self) -> list[Account | None]:
        return ACCOUNTS


SCHEMA = strawberry.federation.Schema(query=Query)


class RecordingClient(InProcessClient):
    def __init__(self) -> None:
        super().__init__(SCHEMA)
        self.queries: list[str] = []

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        self.queries.append(request.query)
        return await super().fetch(request)


async def authenticate(headers: Mapping[str, str]) -> Principal:
    if "x-test-user" not in headers:
        return ANONYMOUS
    return Principal(True, frozenset(headers.get("x-test-scopes", "").split()))


async def post(
    query: str, headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    supergraph = compose_or_raise([SubgraphSource("accounts", "http://accounts", SUBGRAPH_SDL)])
    client = RecordingClient()
    app = create_app(supergraph, {"accounts": client}, graphiql=False, authenticator=authenticate)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as http,
    ):
        response = await http.post("/graphql", json={"query": query}, headers=headers or {})
    return response.json(), client.queries


async def test_anonymous_caller_gets_null_and_unauthenticated_and_the_rest_survives() -> None:
    body, queries = await post("{ public me { name } }")
    assert body["data"] == {"public": "hello", "me": None}
    [error] = body["errors"]
    assert error["path"] == ["me"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert all("me" not in q for q in queries)  # the subgraph was never asked


async def test_missing_scope_is_forbidden_in_every_list_position() -> None:
    body, queries = await post(
        "{ accounts { name email } }", {"x-test-user": "1", "x-test-scopes": "other"}
    )
    assert body["data"] == {
        "accounts": [{"name": "Reader One", "email": None}, {"name": "Reader Two", "email": None}]
    }
    assert [e["path"] for e in body["errors"]] == [
        ["accounts", 0, "email"],
        ["accounts", 1, "email"],
    ]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    assert all("email" not in q for q in queries)


async def test_any_alternative_scope_set_grants_the_field() -> None:
    for scopes in ("accounts:read", "admin"):
        body, _ = await post("{ me { email } }", {"x-test-user": "1", "x-test-scopes": scopes})
        assert body == {"data": {"me": {"email": "one@example.test"}}}


async def test_denied_non_null_field_nulls_its_parent() -> None:
    body, _ = await post("{ public accounts { name secretCode } }")
    assert body["data"] == {"public": "hello", "accounts": [None, None]}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHENTICATED"}


async def test_authorization_machinery_is_not_in_the_api_schema() -> None:
    body, _ = await post('{ __type(name: "requiresScopes__Scope") { name } }')
    assert body == {"data": {"__type": None}}
