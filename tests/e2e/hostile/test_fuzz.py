"""Fuzzing the live API through the real HTTP server: queries and mutations generated from the
schema the gateway serves (valid ones and broken ones), sent anonymously and as a member.
Whatever arrives, the answer is a GraphQL response: never a 5xx, never a traceback, and
nothing in the server's log that says a request failed inside the gateway.

`FUZZ_EXAMPLES` sets the number of documents per kind (a bounded default for the suite; set
it to thousands to fuzz for longer).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import httpx
import pytest
from graphql import build_client_schema, get_introspection_query, print_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from hypothesis_graphql import strategies as gql

from .conftest import Gateway, new_viewer

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
_SCALARS = {
    "DateTime": st.sampled_from(["2024-01-01T00:00:00Z", "not a date", ""]).map(nodes.String),
    "requiresScopes__Scope": st.text(max_size=20).map(nodes.String),
}


class _Failures(logging.Handler):
    """Log records that mean a request failed inside the server."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("media_gateway.gateway", "uvicorn", "media_gateway.access")):
            self.records.append(record)


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text, response.text
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or body.get("errors")), body
    for error in body.get("errors") or []:
        assert isinstance(error.get("message"), str), error


@pytest.mark.parametrize("kind", ["query", "mutation"])
async def test_generated_operations_never_break_the_gateway(gateway: Gateway, kind: str) -> None:
    viewer = await new_viewer(gateway)
    introspection = await gateway.post(get_introspection_query())
    sdl = print_schema(build_client_schema(introspection["data"]))
    generate = gql.queries if kind == "query" else gql.mutations
    strategy = st.one_of(
        generate(sdl, custom_scalars=_SCALARS),
        generate(sdl, custom_scalars=_SCALARS, mode=gql.Mode.NEGATIVE),
    )
    failures = _Failures()
    logging.getLogger().addHandler(failures)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(document=strategy, signed_in=st.booleans())
    def run(document: Any, signed_in: bool) -> None:
        headers = {"authorization": f"Bearer {viewer['token']}"} if signed_in else {}
        with httpx.Client(timeout=30) as http:
            check(http.post(gateway.http_url, json={"query": document}, headers=headers))

    try:
        await asyncio.to_thread(run)
    finally:
        logging.getLogger().removeHandler(failures)
    assert not failures.records, [r.getMessage() for r in failures.records]
