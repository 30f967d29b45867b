"""Fixtures: the platform behind a real gateway on loopback, for the router's streaming and
subscription transports (WebSocket, SSE, multipart)."""

from __future__ import annotations

try:  # the test folders are packages; their parent may or may not be one
    from tests.realtime.conftest import gateway, new_viewer, platform, settings, viewer
    from tests.realtime.helpers import (
        COMMANDS,
        PROGRESS,
        SEND,
        START,
        TITLE,
        UPDATE,
        Gateway,
        WsClient,
        listening_socket,
        multipart_parts,
        sse_events,
    )
except ImportError:  # pragma: no cover
    from realtime.conftest import (  # type: ignore[no-redef,unused-ignore]
        gateway,
        new_viewer,
        platform,
        settings,
        viewer,
    )
    from realtime.helpers import (  # type: ignore[no-redef,unused-ignore]
        COMMANDS,
        PROGRESS,
        SEND,
        START,
        TITLE,
        UPDATE,
        Gateway,
        WsClient,
        listening_socket,
        multipart_parts,
        sse_events,
    )

__all__ = [
    "COMMANDS",
    "PROGRESS",
    "SEND",
    "START",
    "TITLE",
    "UPDATE",
    "Gateway",
    "WsClient",
    "gateway",
    "listening_socket",
    "multipart_parts",
    "new_viewer",
    "platform",
    "settings",
    "sse_events",
    "viewer",
]
