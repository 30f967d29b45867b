"""``media-gateway schema``: composition's command over the platform's own subgraphs.

Without ``--subgraph`` it composes the platform's subgraphs (their SDL as
``media_gateway.app.subgraph_sdls`` prints it) and writes to, or checks, the SDL committed in
the ``media_gateway/schema`` folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from media_gateway.composition import cli as composition_cli
from media_gateway.composition.compose import SubgraphSource

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schema"


def platform_subgraphs() -> list[SubgraphSource]:
    from media_gateway.app import subgraph_sdls

    return [SubgraphSource(name, url, sdl) for name, url, sdl in subgraph_sdls()]


def register(subparsers: Any) -> None:
    composition_cli.register(subparsers, sources=platform_subgraphs, schema_dir=SCHEMA_DIR)
