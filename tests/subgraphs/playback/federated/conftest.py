"""Fixtures: playback's events through the whole platform behind a real gateway on
loopback."""

from __future__ import annotations

try:  # the test folders are packages; their parent may or may not be one
    from tests.realtime.conftest import gateway, new_viewer, platform, settings, viewer
    from tests.realtime.helpers import START, TITLE, UPDATE, Gateway
except ImportError:  # pragma: no cover
    from realtime.conftest import (  # type: ignore[no-redef,unused-ignore]
        gateway,
        new_viewer,
        platform,
        settings,
        viewer,
    )
    from realtime.helpers import (  # type: ignore[no-redef,unused-ignore]
        START,
        TITLE,
        UPDATE,
        Gateway,
    )

__all__ = [
    "START",
    "TITLE",
    "UPDATE",
    "Gateway",
    "gateway",
    "new_viewer",
    "platform",
    "settings",
    "viewer",
]
