"""Viewing profiles with parental controls and API keys; what they mean behind the gateway."""

from __future__ import annotations

from typing import Any

from jose import jwt

from media_gateway.assembly.base import Subgraph
from media_gateway.auth.tokens import Claims, rating_allowed, verify_access_token

from .conftest import PASSWORD, Client, error_codes

CREATE = """mutation($i: CreateProfileInput!) {
  createProfile(input: $i) { id name kids maxContentRating language } }"""
SWITCH = """mutation($p: ID!, $pw: String) { switchProfile(profileId: $p, password: $pw) {
  accessToken refreshToken profile { id name kids maxContentRating active } } }"""
PROFILES = "{ me { profiles { id name kids maxContentRating active } } activeProfile { id } }"
REFRESH = """mutation($t: String!) { refreshSession(refreshToken: $t) {
  accessToken profile { id } } }"""


async def _profile(client: Client, token: str, **fields: Any) -> dict[str, Any]:
    body = await client(CREATE, {"i": fields}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["createProfile"]
    return result


async def test_profiles_and_switching_put_the_profile_in_the_token(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    token = account["token"]
    adult = await _profile(graph, token, name="Grown-up", maxContentRating="TV-MA")
    assert adult["maxContentRating"] == "R"  # TV ratings map onto the film scale
    kid = await _profile(graph, token, name="Little One", kids=True, language="pt-BR")
    assert kid["maxContentRating"] == "PG" and kid["language"] == "pt-BR"
    too_much = await graph(
        CREATE, {"i": {"name": "X", "kids": True, "maxContentRating": "R"}}, token=token
    )
    assert error_codes(too_much) == ["BAD_USER_INPUT"]
    unknown = await graph(CREATE, {"i": {"name": "X", "maxContentRating": "XXX"}}, token=token)
    assert error_codes(unknown) == ["BAD_USER_INPUT"]

    switched = (await graph(SWITCH, {"p": kid["id"]}, token=token))["data"]["switchProfile"]
    assert switched["profile"]["active"] is True
    claims = jwt.get_unverified_claims(switched["accessToken"])
    assert (claims["pid"], claims["mcr"], claims["kids"]) == (kid["id"], "PG", True)
    verified: Claims = verify_access_token(switched["accessToken"], identity.runtime.settings)
    assert verified.profile_id == kid["id"] and verified.kids is True
    assert verified.max_content_rating == "PG"
    assert not verified.allows_rating("R") and verified.allows_rating("TV-Y7")
    listed = await graph(PROFILES, token=switched["accessToken"])
    assert listed["data"]["activeProfile"] == {"id": kid["id"]}
    assert [p["active"] for p in listed["data"]["me"]["profiles"]] == [False, True]
    # the profile survives a refresh
    refreshed = await graph(REFRESH, {"t": switched["refreshToken"]})
    assert refreshed["data"]["refreshSession"]["profile"] == {"id": kid["id"]}

    # parental lock: a kids profile cannot switch to an adult one without the password
    kids_token = switched["accessToken"]
    locked = await graph(SWITCH, {"p": adult["id"]}, token=kids_token)
    assert error_codes(locked) == ["FORBIDDEN"]
    unlocked = await graph(SWITCH, {"p": adult["id"], "pw": PASSWORD}, token=kids_token)
    assert unlocked["data"]["switchProfile"]["profile"]["maxContentRating"] == "R"
    # and cannot change the profiles
    edit = await graph(CREATE, {"i": {"name": "Mine now"}}, token=kids_token)
    assert error_codes(edit) == ["FORBIDDEN"]


async def test_kids_profile_never_sees_an_r_rated_title(
    gateway: Client, member: dict[str, Any]
) -> None:
    search = """query($q: String!) { search(query: $q, first: 20) {
      edges { node { id title contentRating } } } }"""
    adult = await gateway(search, {"q": "Pulp Fiction"}, token=member["token"])
    titles = [e["node"] for e in adult["data"]["search"]["edges"]]
    r_rated = next(t for t in titles if t["title"] == "Pulp Fiction")
    assert r_rated["contentRating"] == "R"

    kid = await _profile(gateway, member["token"], name="Kid", kids=True)
    kids_token = (await gateway(SWITCH, {"p": kid["id"]}, token=member["token"]))["data"][
        "switchProfile"
    ]["accessToken"]
    direct = await gateway(
        "query($id: ID!) { content(id: $id) { title } }", {"id": r_rated["id"]}, token=kids_token
    )
    assert direct["data"]["content"] is None and error_codes(direct) == ["FORBIDDEN"]
    kids_search = await gateway(search, {"q": "Pulp Fiction"}, token=kids_token)
    for edge in kids_search["data"]["search"]["edges"]:
        assert rating_allowed("PG", edge["node"]["contentRating"]), edge
    completions = await gateway(
        'query { autocomplete(prefix: "Pulp Fic") { kind content { title contentRating } } }',
        token=kids_token,
    )
    for hit in completions["data"]["autocomplete"]:
        if hit["content"]:
            assert rating_allowed("PG", hit["content"]["contentRating"]), hit


CREATE_KEY = """mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) {
  secret apiKey { id name prefix scopes revokedAt } } }"""
KEYS = "{ apiKeys { id name prefix scopes revokedAt } }"


async def test_api_keys_authenticate_with_exactly_their_scopes(
    gateway: Client, identity_app: Client, member: dict[str, Any]
) -> None:
    created = await gateway(
        CREATE_KEY, {"i": {"name": "Reporting", "scopes": ["identity:read"]}}, token=member["token"]
    )
    assert "errors" not in created, created
    secret = created["data"]["createApiKey"]["secret"]
    key = created["data"]["createApiKey"]["apiKey"]
    assert secret.startswith(key["prefix"]) and key["scopes"] == ["identity:read"]
    # listed without the secret
    listed = (await gateway(KEYS, token=member["token"]))["data"]["apiKeys"]
    assert [k["id"] for k in listed] == [key["id"]] and secret not in str(listed)

    expected = {"id": member["id"], "email": member["email"]}
    me = await gateway("{ me { id email } }", headers={"authorization": f"ApiKey {secret}"})
    assert me["data"]["me"] == expected
    # x-api-key, straight at a subgraph (whether the gateway forwards it is the gateway's)
    direct = await identity_app("{ me { id email } }", headers={"x-api-key": secret})
    assert direct["data"]["me"] == expected
    # beyond its scopes: key management is refused, the rest of the response survives
    mixed = await gateway(
        "{ me { id } apiKeys { id } }", headers={"authorization": f"ApiKey {secret}"}
    )
    assert mixed["data"]["me"] == {"id": member["id"]}
    assert mixed["data"]["apiKeys"] is None and error_codes(mixed) == ["FORBIDDEN"]
    # a key cannot mint keys, and unknown scopes are refused
    minted = await gateway(
        CREATE_KEY,
        {"i": {"name": "More", "scopes": ["identity:read"]}},
        headers={"authorization": f"ApiKey {secret}"},
    )
    assert error_codes(minted) == ["FORBIDDEN"]
    bad_scope = await gateway(
        CREATE_KEY, {"i": {"name": "X", "scopes": ["identity:admin"]}}, token=member["token"]
    )
    assert error_codes(bad_scope) == ["BAD_USER_INPUT"]

    narrow = await gateway(
        CREATE_KEY, {"i": {"name": "Catalog", "scopes": ["catalog:read"]}}, token=member["token"]
    )
    narrow_secret = narrow["data"]["createApiKey"]["secret"]
    assert error_codes(
        await gateway("{ me { id } }", headers={"authorization": f"ApiKey {narrow_secret}"})
    ) == ["FORBIDDEN"]

    revoke = await gateway(
        "mutation($id: ID!) { revokeApiKey(id: $id) }", {"id": key["id"]}, token=member["token"]
    )
    assert revoke["data"]["revokeApiKey"] is True
    after = await gateway("{ me { id } }", headers={"authorization": f"ApiKey {secret}"})
    assert error_codes(after) == ["UNAUTHENTICATED"]
    forged = await gateway("{ me { id } }", headers={"authorization": "ApiKey mgk_forged"})
    assert error_codes(forged) == ["UNAUTHENTICATED"]
