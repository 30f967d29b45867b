"""The MCP inspector's command-line client starts `media-gateway mcp` as a desktop agent
would and searches the catalog through it."""

from __future__ import annotations

import asyncio
import json
import sys

try:
    from tests.gateway.mcp.test_inspector import inspector
except ImportError:  # pragma: no cover
    from gateway.mcp.test_inspector import inspector  # type: ignore[no-redef,unused-ignore]

from .conftest import Viewer
from .test_story import platform_env


async def test_the_inspector_runs_the_stdio_server(settings, viewer: Viewer) -> None:
    env = platform_env(settings, MEDIA_GATEWAY_API_KEY=viewer.api_key)
    wanted = ("MEDIA_GATEWAY_", "DATABASE_", "REDIS_URL", "LOG_LEVEL", "JWT_")
    given = [a for k, v in env.items() if k.startswith(wanted) for a in ("-e", f"{k}={v}")]
    done = await asyncio.to_thread(
        inspector,
        *given,
        "--method", "tools/call", "--tool-name", "search_titles", "--tool-arg", "query=space",
        "--", sys.executable, "-m", "media_gateway.cli", "mcp",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["structuredContent"]["search"]["nodes"]
