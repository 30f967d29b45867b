from __future__ import annotations

from pathlib import Path

import pytest

from media_gateway.cli import main

from .helpers import fed2

USERS = fed2("key", 'type Query { me: User }\n type User @key(fields: "id") { id: ID! }')
REVIEWS = fed2("key", 'type User @key(fields: "id") { id: ID! reviews: [String] }')


@pytest.fixture
def subgraph_files(tmp_path: Path) -> list[str]:
    (tmp_path / "users.graphql").write_text(USERS)
    (tmp_path / "reviews.graphql").write_text(REVIEWS)
    return [
        "--subgraph",
        f"users={tmp_path / 'users.graphql'}",
        "--subgraph",
        f"reviews={tmp_path / 'reviews.graphql'}",
        "--routing-url",
        "users=http://users:4001/graphql",
    ]


def test_compose_from_files_writes_subgraphs_and_supergraph(
    tmp_path: Path, subgraph_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schema"
    assert main(["schema", "compose", *subgraph_files, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "reviews.graphql",
        "supergraph.graphql",
        "users.graphql",
    ]
    supergraph = (out / "supergraph.graphql").read_text()
    assert 'USERS @join__graph(name: "users", url: "http://users:4001/graphql")' in supergraph
    assert "composed 2 subgraph(s)" in capsys.readouterr().out


def test_check_passes_when_up_to_date_and_fails_on_drift(
    tmp_path: Path, subgraph_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schema"
    assert main(["schema", "compose", *subgraph_files, "--out", str(out)]) == 0
    assert main(["schema", "check", *subgraph_files, "--dir", str(out)]) == 0
    assert "schema up to date" in capsys.readouterr().out

    (tmp_path / "reviews.graphql").write_text(
        fed2("key", 'type User @key(fields: "id") { id: ID! }')
    )
    assert main(["schema", "check", *subgraph_files, "--dir", str(out)]) == 1
    report = capsys.readouterr().out
    assert "reviews.graphql: differs from a fresh composition" in report
    assert "-  reviews: [String] @join__field(graph: REVIEWS)" in report
    assert "FIELD_REMOVED" in report and "User.reviews" in report
    assert "schema drift" in report


def test_check_reports_composition_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.graphql").write_text("type Query { a: Missing }")
    code = main(
        ["schema", "check", "--subgraph", f"bad={tmp_path / 'bad.graphql'}", "--dir", str(tmp_path)]
    )
    assert code == 1
    assert "INVALID_GRAPHQL" in capsys.readouterr().err


def test_diff_prints_breaking_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.graphql"
    new = tmp_path / "new.graphql"
    old.write_text("type Query { a: Int b: String }")
    new.write_text("type Query { a: Int c: String }")
    assert main(["schema", "diff", str(old), str(new)]) == 1
    output = capsys.readouterr().out
    assert "FIELD_REMOVED" in output and "Query.b" in output
    assert "FIELD_ADDED" not in output
    assert main(["schema", "diff", str(old), str(old)]) == 0


def test_missing_subgraph_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["schema", "compose", "--subgraph", f"x={tmp_path / 'nope.graphql'}"])
    assert code == 2
    assert "no such file" in capsys.readouterr().err
