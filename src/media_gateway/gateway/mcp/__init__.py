"""The gateway's MCP server: persisted GraphQL operations as tools for AI agents.

`server.McpGateway` is the server (tools, resources, prompts, completion, logging), over a
`backend.Backend` (the gateway's request path); `http.py` serves it on `/mcp`, `stdio.py`
over standard input and output; `operations.py` reads the operation set a product supplies;
`schemas.py` derives the tools' JSON Schemas; `auth.py` protects the HTTP endpoint.
"""
