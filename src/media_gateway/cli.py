"""The ``media-gateway`` command.

Each feature contributes its sub-commands through a ``register(subparsers)`` function in its
own ``cli`` module, listed in ``COMMAND_MODULES``. Modules are imported lazily so that a
fast command (``gateway``) does not pay for importing the subgraphs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module path -> the top-level commands it registers (used to import only what is needed)
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "media_gateway.gateway.cli": ("gateway", "plan"),
    "media_gateway.app.schema": ("schema",),
    "media_gateway.app.cli": ("serve", "subgraph", "import", "migrate", "keys"),
    "media_gateway.app.cluster": ("cluster",),
    "media_gateway.app.recs": ("recs",),
    "media_gateway.app.mcp": ("mcp",),
    "media_gateway.app.admin": ("admin",),
    "media_gateway.app.console.cli": ("console",),
    "media_gateway.subgraphs.catalog.cli": ("ingest",),
    "media_gateway.gateway.edge.cli": ("persisted",),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="media-gateway",
        description="Streaming-media GraphQL platform and Apollo Federation v2 gateway.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name, commands in COMMAND_MODULES.items():
        if only is not None and only not in commands:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a feature not installed in this build
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args_list if not a.startswith("-")), None)
    known = {c for cs in COMMAND_MODULES.values() for c in cs}
    parser = build_parser(first if first in known else None)
    args = parser.parse_args(args_list)
    result = args.func(args)
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
