"""``schema``: compose, check and diff the supergraph.

- ``schema compose`` writes one ``<name>.graphql`` per subgraph and ``supergraph.graphql``.
- ``schema check`` recomposes and fails when the committed files drift, listing the breaking
  changes of the new supergraph against the committed one.
- ``schema diff OLD NEW`` lists the changes between two supergraph (or API) schemas.

The subgraphs are given with ``--subgraph``; a product registering the command may hand in
its own (``sources``) and the folder where their SDL is committed (``schema_dir``), used when
the options do not say.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .compose import CompositionResult, SubgraphSource, compose
from .diff import Severity, diff_schemas
from .sources import SourceError, parse_routing_urls, parse_subgraph_option

SUPERGRAPH_FILE = "supergraph.graphql"

# the subgraphs to compose when no --subgraph is given
SourceProvider = Callable[[], list[SubgraphSource]]


def register(
    subparsers: Any,
    *,
    sources: SourceProvider | None = None,
    schema_dir: Path | None = None,
) -> None:
    """Add the ``schema`` command to ``subparsers`` (an ``argparse`` sub-parser action)."""
    where = str(schema_dir) if schema_dir is not None else None
    schema = subparsers.add_parser(
        "schema", help="compose the supergraph and check it for drift and breaking changes"
    )
    commands = schema.add_subparsers(dest="schema_command", metavar="SUBCOMMAND")
    commands.required = True

    def add_source_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--subgraph",
            action="append",
            default=[],
            metavar="NAME=URL_OR_FILE",
            help="a subgraph to compose: a running subgraph's URL (its _service { sdl } is "
            "read) or an SDL file; repeatable"
            + (". Without it, the product's own subgraphs." if sources is not None else ""),
        )
        p.add_argument(
            "--routing-url",
            action="append",
            default=[],
            metavar="NAME=URL",
            help="the URL the gateway should use for a subgraph (default: the URL it was read "
            "from, or empty for a file)",
        )

    compose_p = commands.add_parser("compose", help="compose and write the SDL files")
    add_source_options(compose_p)
    compose_p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write <name>.graphql and supergraph.graphql"
        + (f" (default: {where})" if where else ""),
    )
    compose_p.set_defaults(func=cmd_compose, default_sources=sources, default_dir=schema_dir)

    check_p = commands.add_parser(
        "check", help="fail when the committed SDL differs from a fresh composition"
    )
    add_source_options(check_p)
    check_p.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="the folder holding the committed SDL" + (f" (default: {where})" if where else ""),
    )
    check_p.set_defaults(func=cmd_check, default_sources=sources, default_dir=schema_dir)

    diff_p = commands.add_parser(
        "diff", help="list the changes from OLD to NEW (supergraph or API SDL files)"
    )
    diff_p.add_argument("old", type=Path, metavar="OLD")
    diff_p.add_argument("new", type=Path, metavar="NEW")
    diff_p.add_argument("--all", action="store_true", help="also list dangerous and safe changes")
    diff_p.set_defaults(func=cmd_diff)


# -- commands ------------------------------------------------------------------------------


def _load_sources(args: argparse.Namespace, err: TextIO) -> list[SubgraphSource] | None:
    try:
        routing = parse_routing_urls(args.routing_url)
        if args.subgraph:
            return [parse_subgraph_option(opt, routing) for opt in args.subgraph]
        provider: SourceProvider | None = args.default_sources
        if provider is None:
            raise SourceError("name the subgraphs to compose with --subgraph NAME=URL_OR_FILE")
        sources = provider()
        return [SubgraphSource(s.name, routing.get(s.name, s.url), s.sdl) for s in sources]
    except SourceError as exc:
        print(f"error: {exc}", file=err)
        return None


def _compose(sources: list[SubgraphSource], err: TextIO) -> CompositionResult | None:
    result = compose(sources)
    if not result.ok:
        print(f"composition failed with {len(result.errors)} error(s):", file=err)
        for error in result.errors:
            print(f"  {error}", file=err)
        return None
    return result


def _expected_files(sources: list[SubgraphSource], result: CompositionResult) -> dict[str, str]:
    files = {f"{s.name}.graphql": _with_newline(s.sdl.strip()) for s in sources}
    assert result.supergraph_sdl is not None
    files[SUPERGRAPH_FILE] = _with_newline(result.supergraph_sdl)
    return files


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def cmd_compose(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    sources = _load_sources(args, err)
    if sources is None:
        return 2
    result = _compose(sources, err)
    if result is None:
        return 1
    directory: Path | None = args.out or args.default_dir
    if directory is None:
        print("error: say where to write the SDL with --out DIR", file=err)
        return 2
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in _expected_files(sources, result).items():
        (directory / name).write_text(text, encoding="utf-8")
    names = ", ".join(s.name for s in sorted(sources, key=lambda s: s.name))
    print(
        f"composed {len(sources)} subgraph(s) ({names}) into {directory / SUPERGRAPH_FILE}",
        file=out,
    )
    for hint in result.hints:
        print(f"hint: {hint}", file=out)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    sources = _load_sources(args, err)
    if sources is None:
        return 2
    result = _compose(sources, err)
    if result is None:
        return 1
    directory: Path | None = args.dir or args.default_dir
    if directory is None:
        print("error: name the folder holding the committed SDL with --dir DIR", file=err)
        return 2
    expected = _expected_files(sources, result)
    drift = False
    for name, text in expected.items():
        path = directory / name
        committed = path.read_text(encoding="utf-8") if path.is_file() else None
        if committed == text:
            continue
        drift = True
        if committed is None:
            print(f"{path}: missing (run `media-gateway schema compose`)", file=out)
            continue
        print(f"{path}: differs from a fresh composition", file=out)
        out.writelines(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"committed/{name}",
                tofile=f"composed/{name}",
            )
        )
    if directory.is_dir():
        for stale in sorted(directory.glob("*.graphql")):
            if stale.name not in expected:
                drift = True
                print(f"{stale}: no subgraph of that name any more", file=out)
    committed_supergraph = directory / SUPERGRAPH_FILE
    if committed_supergraph.is_file():
        assert result.supergraph_sdl is not None
        changes = diff_schemas(
            committed_supergraph.read_text(encoding="utf-8"), result.supergraph_sdl
        )
        breaking = [c for c in changes if c.severity is Severity.BREAKING]
        if breaking:
            print(f"{len(breaking)} breaking change(s) against the committed supergraph:", file=out)
            for change in breaking:
                print(f"  {change}", file=out)
    if drift:
        print("schema drift: run `media-gateway schema compose` and commit the result", file=out)
        return 1
    print(f"schema up to date ({len(sources)} subgraph(s))", file=out)
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        old = args.old.read_text(encoding="utf-8")
        new = args.new.read_text(encoding="utf-8")
    except OSError as exc:
        print(f"error: {exc}", file=err)
        return 2
    changes = diff_schemas(old, new)
    shown = changes if args.all else [c for c in changes if c.severity is Severity.BREAKING]
    for change in shown:
        print(str(change), file=out)
    breaking = sum(1 for c in changes if c.severity is Severity.BREAKING)
    print(f"{breaking} breaking, {len(changes) - breaking} other change(s)", file=out)
    return 1 if breaking else 0
