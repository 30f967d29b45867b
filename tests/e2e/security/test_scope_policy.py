"""The scope policy of the whole graph, checked against the live API schema.

Every mutation, every root field, every field of the account (``User``) and every field that
declares ``@authenticated`` / ``@requiresScopes`` must have a row in ``POLICY``: the scope it
needs and the outcome for each kind of caller. The test reads the schema by introspection
through the gateway, sends each field to the gateway as each caller (arguments made up from
the field's types: the refusal comes before any argument is looked at) and compares.
A field added to the graph without a row here fails the test.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from media_gateway.gateway.supergraph import Supergraph

from .conftest import PASSWORD, Caller, Client

OK = "ok"  # no authorization refusal (the field may still answer e.g. NOT_FOUND)
NO = "FORBIDDEN"
ANON = "UNAUTHENTICATED"
OPEN = "open"  # no requirement: the answer is the same whoever asks
CALLERS = ("session", "api_key", "oauth", "kids", "anonymous")

# The API key holds every read scope; the third-party app identity:read, catalog:read and
# sync:read; the kids profile is a member session on a kids profile (see conftest).
#
# field                                    scope                    session key  app  kids anonymous
POLICY: dict[str, tuple[str | None, str, str, str, str, str]] = {
    # -- identity: accounts and sign-in, open to anyone ----------------------------------------
    "Mutation.register": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Mutation.login": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Mutation.refreshSession": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Mutation.logout": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Mutation.verifyEmail": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Mutation.requestPasswordReset": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Mutation.resetPassword": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Mutation.startDeviceAuthorization": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Mutation.pollDeviceAuthorization": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    # -- identity: the account ---------------------------------------------------------------
    "Query.me": ("identity:read", OK, OK, OK, OK, ANON),
    "Query.activeProfile": ("identity:read", OK, OK, OK, OK, ANON),
    "User.id": (None, OK, OK, OK, OK, ANON),
    "User.displayName": (None, OK, OK, OK, OK, ANON),
    "User.createdAt": (None, OK, OK, OK, OK, ANON),
    "User.email": (None, OK, OK, OK, OK, ANON),
    "User.emailVerified": (None, OK, OK, OK, OK, ANON),
    "User.mfaEnabled": (None, OK, OK, OK, OK, ANON),
    "User.profiles": ("identity:read", OK, OK, OK, OK, ANON),
    "User.linkedSignIns": ("identity:read", OK, OK, OK, OK, ANON),
    "Mutation.requestEmailVerification": ("identity:write", OK, NO, NO, OK, ANON),
    "Mutation.createProfile": ("identity:write", OK, NO, NO, NO, ANON),
    "Mutation.updateProfile": ("identity:write", OK, NO, NO, NO, ANON),
    "Mutation.deleteProfile": ("identity:write", OK, NO, NO, NO, ANON),
    "Mutation.switchProfile": ("authenticated", OK, NO, OK, OK, ANON),
    # -- identity: administration, a member's own session on a grown-up profile -------------------
    "Query.apiKeys": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.createApiKey": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.revokeApiKey": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.startTotpEnrolment": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.confirmTotpEnrolment": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.disableTotp": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.approveDeviceAuthorization": ("identity:admin", OK, NO, NO, OK, ANON),
    "Mutation.denyDeviceAuthorization": ("identity:admin", OK, NO, NO, OK, ANON),
    "Mutation.registerOauthClient": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.changePassword": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.logoutEverywhere": ("identity:admin", OK, NO, NO, NO, ANON),
    "Mutation.unlinkSignIn": ("identity:admin", OK, NO, NO, NO, ANON),
    # -- catalog: public ---------------------------------------------------------------------
    "Query.content": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Query.contents": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Query.person": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Query.search": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Query.autocomplete": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Query.leavingSoon": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    "Query.genres": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    # -- catalog: editing, by catalog editors and admins (no member credential holds it) ---------
    "Query.catalogHistory": ("catalog:write", NO, NO, NO, NO, ANON),
    "Mutation.createTitle": ("catalog:write", NO, NO, NO, NO, ANON),
    "Mutation.updateTitle": ("catalog:write", NO, NO, NO, NO, ANON),
    "Mutation.retireTitle": ("catalog:write", NO, NO, NO, NO, ANON),
    "Mutation.setTitleAvailability": ("catalog:write", NO, NO, NO, NO, ANON),
    "Mutation.setTitleCredits": ("catalog:write", NO, NO, NO, NO, ANON),
    "Mutation.createPerson": ("catalog:write", NO, NO, NO, NO, ANON),
    "Mutation.updatePerson": ("catalog:write", NO, NO, NO, NO, ANON),
    "Mutation.undoCatalogChange": ("catalog:write", NO, NO, NO, NO, ANON),
    "Query.trending": (None, OPEN, OPEN, OPEN, OPEN, OPEN),
    # -- sync --------------------------------------------------------------------------------
    "Query.syncState": ("sync:read", OK, OK, OK, OK, ANON),
    "User.watchlist": ("sync:read", OK, OK, OK, OK, ANON),
    "User.watchlistEntries": ("sync:read", OK, OK, OK, OK, ANON),
    "User.devices": ("sync:read", OK, OK, OK, OK, ANON),
    "Subscription.watchlistChanged": ("sync:read", OK, OK, OK, OK, ANON),
    "Subscription.remoteCommands": ("sync:read", OK, OK, OK, OK, ANON),
    "Subscription.devicePresence": ("sync:read", OK, OK, OK, OK, ANON),
    "Mutation.addToWatchlist": ("sync:write", OK, NO, NO, OK, ANON),
    "Mutation.removeFromWatchlist": ("sync:write", OK, NO, NO, OK, ANON),
    "Mutation.registerDevice": ("sync:write", OK, NO, NO, OK, ANON),
    "Mutation.syncOperations": ("sync:write", OK, NO, NO, OK, ANON),
    "Mutation.sendRemoteCommand": ("sync:write", OK, NO, NO, OK, ANON),
    # -- playback ----------------------------------------------------------------------------
    "Query.playbackSession": ("playback:read", OK, OK, NO, OK, ANON),
    "User.continueWatching": ("playback:read", OK, OK, NO, OK, ANON),
    "User.watchHistory": ("playback:read", OK, OK, NO, OK, ANON),
    "Content.viewerProgress": ("playback:read", OK, OK, NO, OK, ANON),
    "Subscription.playbackProgress": ("playback:read", OK, OK, NO, OK, ANON),
    "Mutation.startPlayback": ("playback:write", OK, NO, NO, OK, ANON),
    "Mutation.updatePlaybackProgress": ("playback:write", OK, NO, NO, OK, ANON),
    "Mutation.endPlayback": ("playback:write", OK, NO, NO, OK, ANON),
    # -- recommendations ---------------------------------------------------------------------
    "User.recommendations": ("recommendations:read", OK, OK, NO, OK, ANON),
    "User.rows": ("recommendations:read", OK, OK, NO, OK, ANON),
    "Mutation.recordRecommendationOutcome": ("recommendations:write", OK, NO, NO, OK, ANON),
    "Mutation.rateTitle": ("recommendations:write", OK, NO, NO, OK, ANON),
    "Mutation.dislikeTitle": ("recommendations:write", OK, NO, NO, OK, ANON),
    # experiments are run by operators: no member credential holds recommendations:admin
    "Query.experimentResults": ("recommendations:admin", NO, NO, NO, NO, ANON),
    "Mutation.createRecommendationExperiment": ("recommendations:admin", NO, NO, NO, NO, ANON),
    "Mutation.stopRecommendationExperiment": ("recommendations:admin", NO, NO, NO, NO, ANON),
    "Mutation.startRecommendationExperiment": ("recommendations:admin", NO, NO, NO, NO, ANON),
    "Mutation.concludeRecommendationExperiment": ("recommendations:admin", NO, NO, NO, NO, ANON),
    # -- catalog: search analytics and synonyms, for catalog editors and admins ----------------
    "Query.searchAnalytics": ("search:admin", NO, NO, NO, NO, ANON),
    "Query.trendingSearches": ("search:admin", NO, NO, NO, NO, ANON),
    "Query.searchRewriteProposals": ("search:admin", NO, NO, NO, NO, ANON),
    "Query.searchSynonyms": ("search:admin", NO, NO, NO, NO, ANON),
    "Mutation.createSearchSynonym": ("search:admin", NO, NO, NO, NO, ANON),
    "Mutation.deleteSearchSynonym": ("search:admin", NO, NO, NO, NO, ANON),
    # -- identity: account administration and the audit log, for operators ---------------------
    "Query.adminAccounts": ("accounts:read", NO, NO, NO, NO, ANON),
    "Query.adminAccount": ("accounts:read", NO, NO, NO, NO, ANON),
    "Query.auditLog": ("audit:read", NO, NO, NO, NO, ANON),
    "Query.adminAccountExport": ("accounts:support", NO, NO, NO, NO, ANON),
    "User.adminWatchHistory": ("accounts:support", NO, NO, NO, NO, ANON),
    "User.adminWatchlist": ("accounts:support", NO, NO, NO, NO, ANON),
    "User.adminDevices": ("accounts:read", NO, NO, NO, NO, ANON),
    "Mutation.adminRevokeSessions": ("accounts:support", NO, NO, NO, NO, ANON),
    "Mutation.adminLockAccount": ("accounts:support", NO, NO, NO, NO, ANON),
    "Mutation.adminUnlockAccount": ("accounts:support", NO, NO, NO, NO, ANON),
    "Mutation.adminForcePasswordReset": ("accounts:support", NO, NO, NO, NO, ANON),
    "Mutation.adminSetAccountRole": ("accounts:admin", NO, NO, NO, NO, ANON),
    "Mutation.adminScheduleAccountDeletion": ("accounts:admin", NO, NO, NO, NO, ANON),
    "Mutation.adminCancelAccountDeletion": ("accounts:admin", NO, NO, NO, NO, ANON),
    "Mutation.adminGrantApiKeyScopes": ("accounts:admin", NO, NO, NO, NO, ANON),
}
# sent last: it ends the account's sessions
LAST = {"Mutation.logoutEverywhere"}
# arguments chosen rather than made up, where a made-up one would be refused with a code the
# outcome could be mistaken for (a wrong password is UNAUTHENTICATED, a device that is not the
# account's NOT_FOUND); "$device" and "$content" stand for one of the account's devices and a
# title every profile may see
ARGUMENTS: dict[str, dict[str, Any]] = {
    "Mutation.changePassword": {"currentPassword": PASSWORD, "newPassword": ""},
    "Mutation.sendRemoteCommand": {"targetDeviceId": "$device"},
    "Mutation.syncOperations": {"deviceId": "$device"},
    "Mutation.startPlayback": {"deviceId": "$device", "contentId": "$content"},
    "Subscription.remoteCommands": {"deviceId": "$device"},
}
SUBSCRIPTION_WAIT_SECONDS = 1.0

TYPE_REF = "kind name ofType { kind name ofType { kind name ofType { kind name } } }"
INTROSPECTION = f"""{{ __schema {{
  queryType {{ name }} mutationType {{ name }} subscriptionType {{ name }}
  types {{
    kind name
    interfaces {{ name }}
    fields {{ name type {{ {TYPE_REF} }} args {{ name defaultValue type {{ {TYPE_REF} }} }} }}
    inputFields {{ name defaultValue type {{ {TYPE_REF} }} }}
    enumValues {{ name }}
  }}
}} }}"""


class Schema:
    """The API schema as introspection describes it."""

    def __init__(self, data: dict[str, Any]) -> None:
        schema = data["__schema"]
        self.types: dict[str, dict[str, Any]] = {t["name"]: t for t in schema["types"]}
        self.roots = {
            kind: (schema[f"{kind}Type"] or {}).get("name")
            for kind in ("query", "mutation", "subscription")
        }

    def fields(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in self.types[type_name].get("fields") or []}

    def value(self, ref: dict[str, Any]) -> Any:
        """A made-up value of an input type."""
        if ref["kind"] == "NON_NULL":
            return self.value(ref["ofType"])
        if ref["kind"] == "LIST":
            return [self.value(ref["ofType"])]
        named = self.types[ref["name"]]
        if named["kind"] == "ENUM":
            return named["enumValues"][0]["name"]
        if named["kind"] == "INPUT_OBJECT":
            return {
                f["name"]: self.value(f["type"])
                for f in named["inputFields"]
                if f["type"]["kind"] == "NON_NULL" and f["defaultValue"] is None
            }
        return {
            "Int": 1,
            "Float": 1.0,
            "Boolean": False,
            "String": f"probe-{uuid.uuid4().hex[:8]}",
            "ID": f"probe-{uuid.uuid4().hex[:8]}",
        }.get(ref["name"], "2024-01-01T00:00:00+00:00")

    def type_text(self, ref: dict[str, Any]) -> str:
        if ref["kind"] == "NON_NULL":
            return self.type_text(ref["ofType"]) + "!"
        if ref["kind"] == "LIST":
            return f"[{self.type_text(ref['ofType'])}]"
        return str(ref["name"])

    def selection(self, ref: dict[str, Any]) -> str:
        while ref.get("ofType"):
            ref = ref["ofType"]
        kind = self.types[ref["name"]]["kind"]
        return " { __typename }" if kind in ("OBJECT", "INTERFACE", "UNION") else ""

    def call(
        self, field: dict[str, Any], chosen: dict[str, Any] | None = None
    ) -> tuple[str, str, dict[str, Any]]:
        """(variable definitions, the field with its arguments and selection, variables)."""
        required = [
            a
            for a in field["args"]
            if a["type"]["kind"] == "NON_NULL" and a["defaultValue"] is None
        ]
        chosen = chosen or {}
        variables = {
            f"a_{a['name']}": chosen[a["name"]] if a["name"] in chosen else self.value(a["type"])
            for a in required
        }
        definitions = ", ".join(f"$a_{a['name']}: {self.type_text(a['type'])}" for a in required)
        arguments = ", ".join(f"{a['name']}: $a_{a['name']}" for a in required)
        text = field["name"] + (f"({arguments})" if arguments else "")
        return (
            (f"({definitions})" if definitions else ""),
            text + self.selection(field["type"]),
            variables,
        )


def coordinates(schema: Schema, supergraph: Supergraph) -> set[str]:
    """The fields the policy must cover."""
    out: set[str] = set()
    for kind in ("query", "mutation", "subscription"):
        root = schema.roots[kind]
        if root:
            out |= {f"{root}.{name}" for name in schema.fields(root)}
    out |= {f"User.{name}" for name in schema.fields("User")}
    for type_name, field_name in supergraph.requirements:
        if field_name is not None:
            out.add(f"{type_name}.{field_name}")
    return out


def policy_key(schema: Schema, coordinate: str) -> str | None:
    """The row for a field: its own, or its interface's (implementations inherit it)."""
    if coordinate in POLICY:
        return coordinate
    type_name, field_name = coordinate.split(".")
    for interface in schema.types[type_name].get("interfaces") or []:
        key = f"{interface['name']}.{field_name}"
        if key in POLICY:
            return key
    return None


def outcome(body: dict[str, Any], path: list[str]) -> str:
    """The authorization refusal at the field (or above it), else the first error's code
    (for open fields, to compare callers), else OK."""
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        at = [p for p in error.get("path") or [] if isinstance(p, str)]
        if code in (NO, ANON) and at == path[: len(at)]:
            return str(code)
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    return f"{OK}:{codes[0]}" if codes else OK


def chosen(coordinate: str, known: dict[str, str]) -> dict[str, Any]:
    return {
        name: known.get(value, value) if isinstance(value, str) else value
        for name, value in ARGUMENTS.get(coordinate, {}).items()
    }


async def probe(
    gateway: Client, schema: Schema, coordinate: str, caller: Caller, known: dict[str, str]
) -> str:
    type_name, field_name = coordinate.split(".")
    if type_name == schema.roots["subscription"]:
        return await probe_subscription(gateway, schema, coordinate, caller, known)
    if type_name in (schema.roots["query"], schema.roots["mutation"]):
        definitions, text, variables = schema.call(
            schema.fields(type_name)[field_name], chosen(coordinate, known)
        )
        operation = "mutation" if type_name == schema.roots["mutation"] else "query"
        document, path = f"{operation}{definitions} {{ {text} }}", [field_name]
    elif type_name == "User":
        definitions, text, variables = schema.call(schema.fields("User")[field_name])
        document, path = f"query{definitions} {{ me {{ {text} }} }}", ["me", field_name]
    elif type_name == "Content":
        definitions, text, variables = schema.call(schema.fields("Content")[field_name])
        definitions = definitions[:-1] + ", $id: ID!)" if definitions else "($id: ID!)"
        document = f"query{definitions} {{ content(id: $id) {{ {text} }} }}"
        path, variables = ["content", field_name], {**variables, "id": known["$content"]}
    else:  # pragma: no cover - a new kind of private field: say how to reach it
        raise AssertionError(f"no probe reaches {coordinate}; add one to this test")
    body = await gateway(document, variables, headers=caller.headers)
    return outcome(body, path)


async def probe_subscription(
    gateway: Client, schema: Schema, coordinate: str, caller: Caller, known: dict[str, str]
) -> str:
    """Subscribe over SSE: a refusal comes at once; a subscription that is still open after a
    moment was accepted."""
    type_name, field_name = coordinate.split(".")
    definitions, text, variables = schema.call(
        schema.fields(type_name)[field_name], chosen(coordinate, known)
    )
    request = gateway.http.post(
        "/graphql",
        json={"query": f"subscription{definitions} {{ {text} }}", "variables": variables},
        headers={"accept": "text/event-stream", **caller.headers},
    )
    try:
        response = await asyncio.wait_for(request, SUBSCRIPTION_WAIT_SECONDS)
    except TimeoutError:
        return OK
    for code in (NO, ANON):
        if f'"code":"{code}"' in response.text.replace(" ", ""):
            return code
    return f"{OK}:{response.status_code}"


@pytest.fixture
async def api_schema(gateway: Client) -> Schema:
    body = await gateway(INTROSPECTION)
    assert "errors" not in body, body
    return Schema(body["data"])


async def test_every_mutation_and_private_field_has_a_declared_policy(
    api_schema: Schema, supergraph_sdl: str
) -> None:
    supergraph = Supergraph(supergraph_sdl)
    missing = sorted(
        c for c in coordinates(api_schema, supergraph) if not policy_key(api_schema, c)
    )
    assert not missing, f"declare a scope policy for: {', '.join(missing)}"
    # and the schema says what the table says (@requiresScopes / @authenticated)
    for coordinate in coordinates(api_schema, supergraph):
        key = policy_key(api_schema, coordinate)
        assert key is not None
        type_name, field_name = coordinate.split(".")
        requirement = supergraph.requirements.get((type_name, field_name))
        declared = POLICY[key][0]
        if declared is None or (type_name == "User" and requirement is None):
            assert requirement is None or declared is not None, coordinate
            continue
        assert requirement is not None, f"{coordinate} needs {declared} but declares nothing"
        if declared == "authenticated":
            assert requirement.authenticated and not requirement.scopes, coordinate
        else:
            assert requirement.scopes == (frozenset({declared}),), (coordinate, requirement)


async def test_each_caller_gets_the_declared_outcome_everywhere(
    gateway: Client,
    api_schema: Schema,
    callers: dict[str, Caller],
    supergraph_sdl: str,
) -> None:
    found = await gateway(  # a title every profile may see
        '{ search(query: "", first: 1, filters: {maxContentRating: "G"}) '
        "{ edges { node { id } } } }"
    )
    device = await gateway(
        'mutation { registerDevice(name: "Living room", kind: TV) { id } }',
        headers=callers["session"].headers,
    )
    known = {
        "$content": found["data"]["search"]["edges"][0]["node"]["id"],
        "$device": device["data"]["registerDevice"]["id"],
    }
    supergraph = Supergraph(supergraph_sdl)
    probed: dict[str, str] = {}
    for coordinate in sorted(coordinates(api_schema, supergraph), key=lambda c: (c in LAST, c)):
        key = policy_key(api_schema, coordinate)
        assert key is not None, coordinate
        if key in probed:  # an implementation of an interface already probed
            continue
        probed[key] = coordinate
        expected = dict(zip(CALLERS, POLICY[key][1:], strict=True))
        seen = {
            name: await probe(gateway, api_schema, key, callers[name], known)
            # the session last where it ends every session of the account
            for name in (tuple(reversed(CALLERS)) if key in LAST else CALLERS)
        }
        if all(e == OPEN for e in expected.values()):
            assert len(set(seen.values())) == 1, (key, seen)
            continue
        got = {name: (OK if s.startswith(OK) else s) for name, s in seen.items()}
        assert got == expected, (key, seen)


def operator_fields(supergraph: Supergraph) -> dict[str, frozenset[str]]:
    """Every field that needs an operator scope, with the operator scopes it needs."""
    from media_gateway.auth.scopes import OPERATOR_SCOPES

    out = {}
    for (type_name, field_name), requirement in supergraph.requirements.items():
        if field_name is None:
            continue
        for scopes in requirement.scopes:
            if scopes & set(OPERATOR_SCOPES):
                out[f"{type_name}.{field_name}"] = frozenset(scopes)
    return out


async def test_operator_fields_are_refused_to_members_and_ungranted_keys(
    gateway: Client,
    api_schema: Schema,
    callers: dict[str, Caller],
    supergraph_sdl: str,
    settings: Any,
) -> None:
    """The operator scopes as a policy over the whole schema: every field that needs one is
    refused to a member's session (and its kids profile and apps) and to an API key holding
    every scope a member can give it; an admin's session gets past the check, and so does a
    key an admin granted exactly the field's scopes."""
    from media_gateway.app.admin import create_admin
    from media_gateway.auth.scopes import DELEGABLE_SCOPES, OPERATOR_SCOPES, ROLES

    from .conftest import api_key, bearer

    assert ROLES["admin"] == frozenset(OPERATOR_SCOPES)
    fields = operator_fields(Supergraph(supergraph_sdl))
    assert fields, "the schema has operator fields"
    for coordinate in fields:  # the table agrees: no member credential gets through
        key = policy_key(api_schema, coordinate)
        assert key is not None, f"declare a scope policy for {coordinate}"
        assert POLICY[key][1:] == (NO, NO, NO, NO, ANON), (coordinate, POLICY[key])

    email = f"operator-{uuid.uuid4().hex[:8]}@example.com"
    await create_admin(settings, email, PASSWORD, "Operator")
    signed_in = await gateway(
        "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) "
        "{ accessToken } }",
        {"e": email, "p": PASSWORD},
    )
    admin_token = signed_in["data"]["login"]["accessToken"]
    ungranted = await api_key(
        gateway, callers["session"].headers["authorization"][7:], sorted(DELEGABLE_SCOPES)
    )
    # (identity:read to reach the account's fields through `me`)
    granted_secret = await api_key(gateway, admin_token, ["identity:read"])
    keys = await gateway("{ apiKeys { id } }", token=admin_token)
    granted_id = keys["data"]["apiKeys"][0]["id"]
    grant = """mutation($k: ID!, $s: [String!]!) {
      adminGrantApiKeyScopes(keyId: $k, scopes: $s) { scopes } }"""
    known = {"$content": "", "$device": ""}
    admin = Caller("admin", bearer(admin_token), frozenset(OPERATOR_SCOPES))
    granted = Caller("granted", {"x-api-key": granted_secret})
    refused_to = {
        "session": callers["session"],
        "kids": callers["kids"],
        "oauth": callers["oauth"],
        "api_key": Caller("ungranted", {"x-api-key": ungranted}),
    }
    for coordinate, scopes in sorted(fields.items()):
        for name, caller in refused_to.items():
            assert await probe(gateway, api_schema, coordinate, caller, known) == NO, (
                coordinate,
                name,
            )
        seen = await probe(gateway, api_schema, coordinate, admin, known)
        assert seen.startswith(OK), (coordinate, "admin", seen)
        body = await gateway(grant, {"k": granted_id, "s": sorted(scopes)}, token=admin_token)
        assert "errors" not in body, body
        seen = await probe(gateway, api_schema, coordinate, granted, known)
        assert seen.startswith(OK), (coordinate, "granted key", seen)
