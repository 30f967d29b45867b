"""``register`` never says which emails have accounts: a known email gets the answer a new
one gets, and its owner gets an email instead."""

from __future__ import annotations

import uuid
from typing import Any

from media_gateway.assembly.base import Subgraph

from .conftest import LOGIN, PASSWORD, REGISTER, Client, error_codes, identity_services, login

FULL = """
mutation Register($email: String!, $password: String!, $name: String!) {
  register(input: {email: $email, password: $password, displayName: $name}) {
    id email displayName emailVerified mfaEnabled
  }
}
"""


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    user = dict(body["data"]["register"])
    user["id"] = bool(user["id"])
    user["email"] = user["email"].split("@")[1]
    return user


async def test_known_email_answers_like_a_new_one_and_mails_the_owner(
    identity: Subgraph, graph: Client, account: dict[str, Any]
) -> None:
    emails = identity_services(identity).emails
    fresh = await graph(
        FULL,
        {
            "email": f"fresh-{uuid.uuid4().hex[:8]}@example.com",
            "password": PASSWORD,
            "name": "Someone",
        },
    )
    again = await graph(
        FULL,
        {"email": account["email"].upper(), "password": "pelican orbit lantern", "name": "Someone"},
    )
    assert "errors" not in fresh and "errors" not in again, (fresh, again)
    assert _shape(again) == _shape(fresh)
    assert again["data"]["register"]["id"] != account["id"]

    mails = [m.kind for m in await emails.outbox_for(account["email"])]
    assert "registration-attempt" in mails
    # the account is untouched: its password still works, the attempt's does not
    await login(graph, account["email"], PASSWORD)
    attempt = await graph(LOGIN, {"email": account["email"], "password": "pelican orbit lantern"})
    assert error_codes(attempt) == ["UNAUTHENTICATED"]


async def test_refusals_do_not_depend_on_the_email_existing(
    graph: Client, account: dict[str, Any]
) -> None:
    unknown = f"unknown-{uuid.uuid4().hex[:8]}@example.com"
    for password in ("password", "k3#v"):
        known_body = await graph(
            REGISTER, {"email": account["email"], "password": password, "name": "X"}
        )
        unknown_body = await graph(REGISTER, {"email": unknown, "password": password, "name": "X"})
        assert known_body["errors"] == unknown_body["errors"]
        assert "ALREADY_EXISTS" not in error_codes(known_body)
