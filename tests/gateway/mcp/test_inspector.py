"""The MCP inspector's command-line client (npm `@modelcontextprotocol/inspector --cli`) as an
outside client of `/mcp`: list, call, a bad argument, an unknown tool."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from media_gateway.gateway.mcp.config import McpConfig

from .conftest import OPERATIONS

CLIENTS = Path(__file__).resolve().parents[2] / "e2e" / "protocol" / "node"
INSPECTOR = CLIENTS / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients"
LAUNCHER = INSPECTOR / "launcher" / "build" / "index.js"


def inspector(*args: str, catalog: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the inspector's CLI; its output is JSON on success."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (scripts/setup.sh --dev installs the clients)"
    assert LAUNCHER.is_file(), "the protocol clients are not installed: run scripts/setup.sh --dev"
    with tempfile.TemporaryDirectory() as home:
        return subprocess.run(
            [node, str(LAUNCHER), "--cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": home},
        )


async def run(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(inspector, *args)


def output(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_the_inspector_lists_and_calls_tools(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    url = f"{served.url}/mcp"
    listed = output(await run(url, "--transport", "http", "--method", "tools/list"))
    called = output(
        await run(
            url, "--transport", "http", "--method", "tools/call",
            "--tool-name", "book", "--tool-arg", "id=b1",
        )
    )  # fmt: skip
    names = {t["name"] for t in listed["tools"]}
    assert {"books", "book", "slow_count"} <= names
    assert called["structuredContent"] == {"book": {"id": "b1", "title": "The Quiet Harbor"}}
    assert not called.get("isError")


async def test_the_inspector_sees_a_tool_error_and_a_protocol_error(serve) -> None:
    served = serve(McpConfig(operations=OPERATIONS))
    url = f"{served.url}/mcp"
    refused = await run(
        url, "--transport", "http", "--method", "tools/call",
        "--tool-name", "book", "--tool-arg", "colour=red",
    )  # fmt: skip
    # a tool error: the result is printed, and the exit status says so
    assert "tool_is_error" in refused.stderr
    bad = json.loads(refused.stdout)
    unknown = await run(
        url, "--transport", "http", "--method", "tools/call", "--tool-name", "nothing"
    )
    assert bad["isError"] and "Invalid arguments" in bad["content"][0]["text"]
    # the inspector refuses a tool the server does not list (the SDK client's test sees the
    # server's protocol error for the call itself)
    assert unknown.returncode != 0 and not unknown.stdout
    assert "tool_not_found" in unknown.stderr
