"""Reuses the subgraph fixtures (settings per backend, platform, clients, tokens)."""

from __future__ import annotations

from tests.subgraphs.conftest import (  # noqa: F401
    clients,
    demo_token,
    new_user,
    platform,
    settings,
)
