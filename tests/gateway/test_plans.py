"""Query plans printed by `media-gateway plan`, snapshot-tested.

Snapshots live in snapshots/*.txt; regenerate them with MEDIA_GATEWAY_UPDATE_SNAPSHOTS=1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from media_gateway.cli import main

from .helpers import FIXTURES, Gateway, assert_snapshot

LIBRARY = str(FIXTURES / "library.graphql")

PLANS = {
    "requires-from-a-third-subgraph": "{ latestReviews { rating book { shippingCost } } }",
    "keys-nested-and-composite": "{ copies { number onLoan branch { name } } }",
    "interface-object": "{ shelf { label timesBorrowed ... on Magazine { issue } } }",
    "union-members-elsewhere": (
        "query ($t: String!) { search(term: $t) { ... on Book { title } ... on Author { born } } }"
    ),
    "mutations-in-order": (
        'mutation { a: addReview(bookId: "b1", rating: 5, body: "Yes") { sequence } '
        'b: restock(isbn: "isbn-1", amount: 1) { book { title } } }'
    ),
    "provides-and-shareable": "{ latestReviews { book { title } } books { author { name } } }",
}


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["plan", "--supergraph", LIBRARY, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(PLANS))
def test_plan_snapshot(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _plan(capsys, PLANS[name])
    assert code == 0, err
    assert_snapshot(f"{name}.txt", out)


def test_plan_with_override_label(capsys: pytest.CaptureFixture[str]) -> None:
    query = '{ book(id: "b1") { format } }'
    _, without, _ = _plan(capsys, query)
    code, labelled, err = _plan(capsys, "--override-label", "inventory-format", query)
    assert code == 0, err
    assert '"inventory"' not in without
    assert '"inventory"' in labelled
    assert_snapshot("progressive-override-with-label.txt", labelled)


def test_plan_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _plan(capsys, "--json", PLANS["requires-from-a-third-subgraph"])
    assert code == 0
    plan = json.loads(out)
    assert plan["kind"] == "QueryPlan"
    assert [f["service"] for f in plan["fetches"]] == ["reviews", "books", "inventory"]
    assert [f["kind"] for f in plan["fetches"]] == ["root", "entity", "entity"]


def test_plan_from_a_file_with_operation_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "ops.graphql"
    doc.write_text("query A { books { title } }\nquery B { authors { born } }\n")
    code, out, _ = _plan(capsys, "--operation-name", "B", f"@{doc}")
    assert code == 0
    assert 'service: "authors"' in out and 'service: "books"' not in out


@pytest.mark.parametrize(
    "query", ["{ books { nope } }", "{ books {", "query A { x } query B { y }"]
)
def test_plan_of_an_invalid_operation(query: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _plan(capsys, query)
    assert code == 2
    assert out == ""
    assert err.startswith("error:")


async def test_printed_plan_is_the_plan_the_gateway_runs(
    gateway: Gateway, capsys: pytest.CaptureFixture[str]
) -> None:
    query = PLANS["keys-nested-and-composite"]
    result = await gateway.post(query)
    _, out, _ = _plan(capsys, query)
    assert result.plan == out.rstrip("\n")
