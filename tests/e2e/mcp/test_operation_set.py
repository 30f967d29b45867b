"""The platform's operation set: every operation valid against the composed supergraph, each
tool described, and the set found by name as the distributed gateways are told
(`GATEWAY_MCP_OPERATIONS=media_gateway.mcp`)."""

from __future__ import annotations

from media_gateway.app.serve import MCP_OPERATIONS, SUPERGRAPH_PATH
from media_gateway.gateway.mcp.backend import PipelineBackend
from media_gateway.gateway.mcp.config import McpConfig
from media_gateway.gateway.mcp.operations import OperationSet
from media_gateway.gateway.mcp.server import McpGateway
from media_gateway.gateway.pipeline import Pipeline
from media_gateway.gateway.supergraph import Supergraph

TOOLS = {
    "search_titles",
    "title_details",
    "similar_titles",
    "my_continue_watching",
    "my_recommendations",
    "my_watchlist",
    "add_to_watchlist",
    "remove_from_watchlist",
    "my_devices",
    "send_remote_command",
}


def platform_gateway(**config: object) -> McpGateway:
    pipeline = Pipeline.for_supergraph(Supergraph(SUPERGRAPH_PATH.read_text()))
    return McpGateway(
        PipelineBackend(pipeline),
        McpConfig(operations=MCP_OPERATIONS, dev_tools=False, **config),  # type: ignore[arg-type]
    )


def test_every_operation_is_valid_and_becomes_a_tool() -> None:
    operations = OperationSet.load(MCP_OPERATIONS)
    tools = platform_gateway(mutations=True).tools()
    # none left out for being invalid: the helpers (completion sources) are there, hidden
    assert set(tools) == set(operations.operations)
    offered = {name for name, tool in tools.items() if tool.enabled}
    assert offered == TOOLS
    for name in offered:
        tool = tools[name].tool
        assert tool.description and len(tool.description) > 40, name
        assert tool.output_schema is not None, name


def test_destructive_tools_carry_the_hint() -> None:
    tools = platform_gateway(mutations=True).tools()
    destructive = {
        n for n, t in tools.items() if t.tool.annotations and t.tool.annotations.destructive_hint
    }
    read_only = {
        n for n, t in tools.items() if t.tool.annotations and t.tool.annotations.read_only_hint
    }
    assert destructive == {"remove_from_watchlist", "send_remote_command"}
    assert "add_to_watchlist" not in read_only and "search_titles" in read_only


def test_the_distributed_gateways_find_the_set_by_name() -> None:
    config = McpConfig.from_env({"GATEWAY_MCP_OPERATIONS": "media_gateway.mcp"})
    assert config.operations is not None
    assert config.operations.resolve() == MCP_OPERATIONS.resolve()
