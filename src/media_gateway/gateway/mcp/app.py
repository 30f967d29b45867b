"""The MCP server of a running gateway: its pipeline as the backend, `/mcp` as the endpoint."""

from __future__ import annotations

from ..routes import forwarded_header_names
from ..state import GatewayState
from .backend import PipelineBackend
from .config import McpConfig
from .http import McpEndpoint
from .server import McpGateway


def mcp_gateway(state: GatewayState, config: McpConfig) -> McpGateway:
    backend = PipelineBackend(state.pipeline, forwarded_header_names(state))
    return McpGateway(backend, config, telemetry=state.edge.telemetry)


def mcp_endpoint(state: GatewayState, config: McpConfig) -> McpEndpoint:
    return McpEndpoint(mcp_gateway(state, config), state.config.authenticator)
