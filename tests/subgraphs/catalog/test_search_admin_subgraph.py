"""The catalog subgraph alone enforces ``search:admin`` on search analytics and synonyms; the
router does too (tested through the gateway in test_search_analytics_federated.py)."""

from __future__ import annotations

import uuid

from media_gateway.app import Platform
from media_gateway.auth.scopes import SESSION_SCOPES
from media_gateway.auth.tokens import token_service

from .conftest import CatalogClient

ANALYTICS = "{ searchAnalytics { searches clickThroughRate topQueries { query } } }"
CREATE = """mutation($term: String!) {
  createSearchSynonym(term: $term, replacement: "toy story", kind: REWRITE) { id } }"""


def token(platform: Platform, scopes: frozenset[str]) -> str:
    issued, _ = token_service(platform.runtime.settings).issue_access_token(
        uuid.uuid4().hex, scopes=tuple(sorted(scopes))
    )
    return issued


async def test_the_catalog_subgraph_refuses_search_admin_to_members_itself(
    platform: Platform, client: CatalogClient
) -> None:
    member = token(platform, SESSION_SCOPES)
    editor = token(platform, SESSION_SCOPES | {"catalog:write", "search:admin"})
    term = f"qxzv {uuid.uuid4().hex[:8]}"
    for query, variables in ((ANALYTICS, {}), (CREATE, {"term": term})):
        refused = await client(query, variables, token=member)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert refused.get("data") is None
        anonymous = await client(query, variables)
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "errors" not in await client(ANALYTICS, token=editor)
    created = await client(CREATE, {"term": term}, token=editor)
    assert "errors" not in created, created
    found = await client(
        "query($q: String!) { search(query: $q, first: 1) { nodes { id } correctedQuery } }",
        {"q": term},
    )
    assert found["data"]["search"]["correctedQuery"] == "toy story"
    assert found["data"]["search"]["nodes"] == [{"id": "movie:toy-story-1995"}]
