"""`media-gateway persisted extract`: build a persisted-query manifest from `.graphql` files.

Every operation found in the files (fragments may live in any of them) becomes one manifest
entry holding the operation and the fragments it uses; its id is the SHA-256 of that text.
Every operation is validated against the current supergraph: an operation that no longer
validates (a removed field, a changed argument) fails the command, so a client release
cannot ship operations the gateway would refuse.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.language import Visitor

from .apq import sha256_hex
from .persisted import APOLLO_FORMAT


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("persisted", help="persisted-query manifests (trusted documents)")
    sub = p.add_subparsers(dest="persisted_command", metavar="SUBCOMMAND")
    sub.required = True
    e = sub.add_parser(
        "extract",
        help="build a manifest from .graphql files, validated against a supergraph",
    )
    e.add_argument("paths", nargs="+", type=Path, help=".graphql files or folders")
    e.add_argument("--supergraph", required=True, type=Path, help="supergraph SDL file")
    e.add_argument("--format", choices=("apollo", "relay"), default="apollo")
    e.add_argument("--output", "-o", type=Path, default=None, help="file (default: stdout)")
    e.set_defaults(func=run_extract)


class _Spreads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.names.append(node.name.value)


def _used_fragments(
    node: OperationDefinitionNode | FragmentDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> list[FragmentDefinitionNode]:
    seen: dict[str, FragmentDefinitionNode] = {}
    todo: list[Any] = [node]
    while todo:
        spreads = _Spreads()
        visit(todo.pop(), spreads)
        for name in spreads.names:
            if name not in seen and name in fragments:
                seen[name] = fragments[name]
                todo.append(fragments[name])
    return [seen[n] for n in sorted(seen)]


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(p.rglob("*.graphql")) + sorted(p.rglob("*.gql")))
        else:
            out.append(p)
    return out


def extract(paths: list[Path], supergraph_sdl: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Manifest operations and the problems found (empty when every operation is valid)."""
    from ..supergraph import Supergraph

    schema = Supergraph(supergraph_sdl).api_schema
    operations: list[tuple[Path, OperationDefinitionNode]] = []
    fragments: dict[str, FragmentDefinitionNode] = {}
    problems: list[str] = []
    for path in _files(paths):
        try:
            document = parse(path.read_text())
        except (OSError, GraphQLError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        for d in document.definitions:
            if isinstance(d, OperationDefinitionNode):
                operations.append((path, d))
            elif isinstance(d, FragmentDefinitionNode):
                if d.name.value in fragments:
                    problems.append(f"{path}: fragment {d.name.value} is defined twice")
                fragments[d.name.value] = d
    entries: list[dict[str, Any]] = []
    names: set[str] = set()
    for path, op in operations:
        if op.name is None:
            problems.append(f"{path}: an operation without a name cannot be persisted")
            continue
        name = op.name.value
        if name in names:
            problems.append(f"{path}: operation {name} is defined twice")
            continue
        names.add(name)
        doc = DocumentNode(definitions=(op, *_used_fragments(op, fragments)))
        body = print_ast(doc)
        for error in validate(schema, parse(body)):
            problems.append(f"{path}: {name}: {error.message}")
        entries.append(
            {"id": sha256_hex(body), "name": name, "type": op.operation.value, "body": body}
        )
    return entries, problems


def run_extract(args: argparse.Namespace) -> int:
    try:
        sdl = args.supergraph.read_text()
    except OSError as exc:
        print(f"error: cannot read supergraph {args.supergraph}: {exc}", file=sys.stderr)
        return 2
    entries, problems = extract(list(args.paths), sdl)
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        print(
            f"{len(problems)} problem(s); no manifest written. Operations must validate "
            "against the current supergraph.",
            file=sys.stderr,
        )
        return 1
    if args.format == "apollo":
        manifest: Any = {"format": APOLLO_FORMAT, "version": 1, "operations": entries}
    else:
        manifest = {e["id"]: e["body"] for e in entries}
    text = json.dumps(manifest, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
        print(f"wrote {len(entries)} operation(s) to {args.output}", file=sys.stderr)
    return 0
