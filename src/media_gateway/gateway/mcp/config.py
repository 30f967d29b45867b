"""What the MCP server offers and how careful it is: read from the environment.

- `GATEWAY_MCP` (on): serve `/mcp` on the gateway;
- `GATEWAY_MCP_OPERATIONS` (none; the platform passes its own): the operation set, a folder
  of `.graphql` operations and `mcp.toml`, or the name of a package holding them;
- `GATEWAY_MCP_MUTATIONS` (off): tools whose operation is a mutation are offered;
- `GATEWAY_MCP_MANIFEST_TOOLS` (off): one tool per operation of the trusted-document
  manifests;
- `GATEWAY_MCP_DEV_TOOLS` (on in development, never in production): the schema-search and
  execute tools;
- `GATEWAY_MCP_MAX_OUTPUT_BYTES` (20000): a tool's output is trimmed to this size;
- `GATEWAY_MCP_TOOL_TIMEOUT` (30): seconds a tool call may take;
- `GATEWAY_MCP_RETRIES` (1): extra attempts of a query (never of a mutation) that failed or
  timed out.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..edge.config import profile

CLIENT_NAME = "mcp"


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        return float(env.get(name, "") or default)
    except ValueError:
        return default


def operations_folder(value: str) -> Path:
    """A folder, or an installed package holding the operation set (`package.name`)."""
    path = Path(value)
    if path.exists() or "/" in value or not value.replace(".", "").replace("_", "").isalnum():
        return path
    spec = importlib.util.find_spec(value)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else path


@dataclass(frozen=True)
class McpConfig:
    enabled: bool = True
    operations: Path | None = None
    mutations: bool = False
    manifest_tools: bool = False
    dev_tools: bool = True
    max_output_bytes: int = 20_000
    tool_timeout: float = 30.0
    retries: int = 1

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, operations: Path | None = None
    ) -> McpConfig:
        """The configuration from the environment; `operations` is the operation set to use
        when `GATEWAY_MCP_OPERATIONS` names none."""
        e = os.environ if env is None else env
        production = profile(e) == "production"
        folder = e.get("GATEWAY_MCP_OPERATIONS", "").strip()
        return cls(
            enabled=_bool(e, "GATEWAY_MCP", True),
            operations=operations_folder(folder) if folder else operations,
            mutations=_bool(e, "GATEWAY_MCP_MUTATIONS", False),
            manifest_tools=_bool(e, "GATEWAY_MCP_MANIFEST_TOOLS", False),
            dev_tools=_bool(e, "GATEWAY_MCP_DEV_TOOLS", not production) and not production,
            max_output_bytes=int(_number(e, "GATEWAY_MCP_MAX_OUTPUT_BYTES", 20_000)),
            tool_timeout=_number(e, "GATEWAY_MCP_TOOL_TIMEOUT", 30.0),
            retries=max(0, int(_number(e, "GATEWAY_MCP_RETRIES", 1))),
        )
