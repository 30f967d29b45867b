"""Fixtures: sync's watchlist CRDT and device presence exercised through the whole platform
behind a real gateway on loopback (replays, leases and events cross subgraphs)."""

from __future__ import annotations

try:  # the test folders are packages; their parent may or may not be one
    from tests.realtime.conftest import gateway, new_viewer, platform, settings, viewer
    from tests.realtime.helpers import Gateway, WsClient
except ImportError:  # pragma: no cover
    from realtime.conftest import (  # type: ignore[no-redef,unused-ignore]
        gateway,
        new_viewer,
        platform,
        settings,
        viewer,
    )
    from realtime.helpers import Gateway, WsClient  # type: ignore[no-redef,unused-ignore]

__all__ = ["Gateway", "WsClient", "gateway", "new_viewer", "platform", "settings", "viewer"]
