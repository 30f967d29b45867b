"""Identity: accounts, sign-in, tokens, the JWKS, ``User`` entity references."""

from __future__ import annotations

import time

from jose import jwt

from media_gateway.assembly.base import Subgraph
from media_gateway.auth.tokens import token_service
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_USER_ID

from ..conftest import REGISTER, GraphQLClient, QueryCounter, entity_query, error_codes, login

ME = "{ me { id displayName email createdAt } }"


async def test_demo_account_signs_in_and_reads_me(clients: dict[str, GraphQLClient]) -> None:
    session = await login(clients["identity"], DEMO_EMAIL, DEMO_PASSWORD)
    assert session["tokenType"] == "Bearer"
    assert session["user"] == {"id": DEMO_USER_ID, "displayName": "Demo Viewer"}
    body = await clients["identity"](ME, token=session["accessToken"])
    assert body["data"]["me"]["email"] == DEMO_EMAIL


async def test_anonymous_me_is_null(clients: dict[str, GraphQLClient]) -> None:
    assert (await clients["identity"](ME))["data"] == {"me": None}


async def test_register_validates_and_hides_duplicates(
    clients: dict[str, GraphQLClient], new_user: dict[str, str]
) -> None:
    identity = clients["identity"]
    again = await identity(
        REGISTER, {"email": new_user["email"].upper(), "password": "another secret", "name": "X"}
    )
    assert "errors" not in again  # answered as for a new email (the owner is mailed)
    assert again["data"]["register"]["id"] != new_user["id"]
    short = await identity(REGISTER, {"email": "short@example.com", "password": "123", "name": "X"})
    assert error_codes(short) == ["BAD_USER_INPUT"]
    assert short["errors"][0]["extensions"]["field"] == "password"
    bad_email = await identity(
        REGISTER, {"email": "not-an-email", "password": "long enough", "name": "X"}
    )
    assert error_codes(bad_email) == ["BAD_USER_INPUT"]


async def test_login_failures_are_generic(clients: dict[str, GraphQLClient]) -> None:
    from ..conftest import LOGIN

    wrong_password = await clients["identity"](
        LOGIN, {"email": DEMO_EMAIL, "password": "nope nope"}
    )
    unknown_user = await clients["identity"](
        LOGIN, {"email": "nobody@example.com", "password": "nope nope"}
    )
    assert error_codes(wrong_password) == error_codes(unknown_user) == ["UNAUTHENTICATED"]
    assert wrong_password["errors"][0]["message"] == unknown_user["errors"][0]["message"]


async def test_refresh_token_rotates_and_reuse_revokes_the_family(
    clients: dict[str, GraphQLClient],
) -> None:
    refresh = """mutation($t: String!) {
      refreshSession(refreshToken: $t) { accessToken refreshToken } }"""
    identity = clients["identity"]
    first = await login(identity, DEMO_EMAIL, DEMO_PASSWORD)
    rotated = await identity(refresh, {"t": first["refreshToken"]})
    second = rotated["data"]["refreshSession"]
    assert second["refreshToken"] != first["refreshToken"]
    reused = await identity(refresh, {"t": first["refreshToken"]})
    assert error_codes(reused) == ["REFRESH_TOKEN_REUSED"]
    # the whole family is revoked: the newest token no longer works either
    after = await identity(refresh, {"t": second["refreshToken"]})
    assert error_codes(after) == ["UNAUTHENTICATED"]


async def test_bad_tokens_are_refused(
    identity: Subgraph, clients: dict[str, GraphQLClient], demo_token: str
) -> None:
    settings = identity.runtime.settings
    identity = clients["identity"]
    # alg: none
    header = jwt.get_unverified_header(demo_token)
    claims = jwt.get_unverified_claims(demo_token)
    unsigned = jwt.encode(claims, "", algorithm="HS256", headers={"kid": header["kid"]})
    body = await identity(ME, token=unsigned)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    # tampered payload
    head, _payload, signature = demo_token.split(".")
    other = jwt.encode({**claims, "sub": "someone-else"}, "x", algorithm="HS256").split(".")[1]
    assert error_codes(await identity(ME, token=f"{head}.{other}.{signature}")) == [
        "UNAUTHENTICATED"
    ]
    # expired
    service = token_service(settings)
    key = service.keys.ensure_signing_key()
    assert key.private_pem is not None
    expired = jwt.encode(
        {**claims, "exp": int(time.time()) - 10, "iat": int(time.time()) - 100},
        key.private_pem.decode(),
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    assert error_codes(await identity(ME, token=expired)) == ["UNAUTHENTICATED"]
    # wrong audience
    foreign = jwt.encode(
        {**claims, "aud": "another-service"},
        key.private_pem.decode(),
        algorithm="RS256",
        headers={"kid": key.kid},
    )
    assert error_codes(await identity(ME, token=foreign)) == ["UNAUTHENTICATED"]


async def test_email_is_private_to_its_owner(
    clients: dict[str, GraphQLClient], new_user: dict[str, str], demo_token: str
) -> None:
    body = await clients["identity"](
        entity_query("... on User { id displayName email }"),
        {"r": [{"__typename": "User", "id": new_user["id"]}]},
        token=demo_token,
    )
    assert body["data"]["_entities"][0]["displayName"] == "New Viewer"
    assert body["data"]["_entities"][0]["email"] is None
    assert error_codes(body) == ["FORBIDDEN"]


async def test_user_references_are_batched(
    clients: dict[str, GraphQLClient],
    new_user: dict[str, str],
    count_queries: QueryCounter,
) -> None:
    representations = [
        {"__typename": "User", "id": i} for i in (DEMO_USER_ID, new_user["id"], "missing")
    ] * 3
    count_queries.reset()
    body = await clients["identity"](
        entity_query("... on User { id displayName }"), {"r": representations}
    )
    assert "errors" not in body
    names = [e["displayName"] if e else None for e in body["data"]["_entities"]]
    assert names == ["Demo Viewer", "New Viewer", None] * 3
    assert count_queries.touching("identity_") == 1


async def test_jwks_health_and_readiness(clients: dict[str, GraphQLClient]) -> None:
    http = clients["identity"].http
    jwks = (await http.get("/.well-known/jwks.json")).json()
    assert jwks["keys"] and jwks["keys"][0]["kty"] == "RSA" and jwks["keys"][0]["kid"]
    assert "d" not in jwks["keys"][0]  # never the private part
    assert (await http.get("/health")).json()["status"] == "ok"
    assert (await http.get("/ready")).status_code == 200
