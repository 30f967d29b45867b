"""Fixtures: the platform served by a real gateway on loopback, for protocol clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from media_gateway.app import Platform

try:  # the test folders are packages; their parent may or may not be one
    from tests.realtime.conftest import new_viewer
    from tests.realtime.helpers import Gateway
    from tests.subgraphs.conftest import platform, settings
except ImportError:  # pragma: no cover
    from realtime.conftest import new_viewer  # type: ignore[no-redef,unused-ignore]
    from realtime.helpers import Gateway  # type: ignore[no-redef,unused-ignore]
    from subgraphs.conftest import (  # type: ignore[no-redef,unused-ignore]  # noqa: F401
        platform,
        settings,
    )

__all__ = ["Gateway", "new_viewer", "platform", "settings"]


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[Gateway]:
    gw = Gateway(platform)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()
