"""Fixtures: the platform served by a real gateway on loopback, for protocol clients."""

from __future__ import annotations

try:  # the test folders are packages; their parent may or may not be one
    from tests.realtime.conftest import gateway, new_viewer, platform, settings
    from tests.realtime.helpers import Gateway
except ImportError:  # pragma: no cover
    from realtime.conftest import (  # type: ignore[no-redef,unused-ignore]
        gateway,
        new_viewer,
        platform,
        settings,
    )
    from realtime.helpers import Gateway  # type: ignore[no-redef,unused-ignore]

__all__ = ["Gateway", "gateway", "new_viewer", "platform", "settings"]
