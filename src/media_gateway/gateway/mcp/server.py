"""The MCP server: persisted operations as tools, the API schema as a resource, the
operation set's prompts, completions and resource templates.

Router-level and media-free: what it offers comes from an `OperationSet` (data a product
supplies), the trusted-document manifests (opt-in) and, in development, two generic tools
(`search_schema`, `execute`). Every tool call goes to a `Backend` (the gateway's request
path) with the caller's headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import mcp.types as types
import orjson
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    print_schema,
)
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp.types.version import MODERN_PROTOCOL_VERSIONS

from .backend import Backend
from .config import CLIENT_NAME, McpConfig
from .operations import OperationSet, OperationSpec, snake_case, values_at
from .schemas import input_schema, output_schema

log = logging.getLogger("media_gateway.gateway.mcp")

SCHEMA_URI = "graphql://schema"
MAX_SESSIONS = 10_000
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


@dataclass
class Tool:
    spec: OperationSpec
    kind: str  # query | mutation
    tool: types.Tool
    enabled: bool  # a mutation while mutations are off: listed nowhere, refused by name
    validator: Any
    # the operation as the router parsed and validated it (None: a generic tool)
    document: DocumentNode | None = None


class ToolError(Exception):
    """A tool call that failed in a way the model can act on (an `isError` result)."""


class McpGateway:
    """One MCP server over one backend. `server` is the SDK's server, run by a transport
    (`http.py`, `stdio.py`)."""

    def __init__(
        self,
        backend: Backend,
        config: McpConfig,
        operations: OperationSet | None = None,
        *,
        name: str = "graphql-gateway",
        version: str = "1",
        headers: Mapping[str, str] | None = None,
        telemetry: Any = None,
    ) -> None:
        self.backend = backend
        self.metrics = AgentMetrics(telemetry)
        self.config = config
        self.operations = operations or OperationSet.load(config.operations)
        # headers every call carries (over STDIO: the credential the command was given)
        self.headers = dict(headers or {})
        self._tools: dict[str, Tool] = {}
        self._key: tuple[object, object, bool] | None = None
        # the latest session of each connection (to tell it of tool changes); a connection
        # gone away is dropped when a notification to it fails, the oldest past MAX_SESSIONS
        self._sessions: dict[int, Any] = {}
        self._levels: dict[int, str] = {}
        self._bus = InMemorySubscriptionBus()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # logging/setLevel: kept for handshake clients
            self.server: Server[Any] = Server(
                name,
                version=version,
                instructions=(
                    "Tools run GraphQL operations through the gateway under the caller's own "
                    "permissions. Read the `graphql://schema` resource for the API."
                ),
                on_list_tools=self._list_tools,
                on_call_tool=self._call_tool,
                on_list_resources=self._list_resources,
                on_list_resource_templates=self._list_resource_templates,
                on_read_resource=self._read_resource,
                on_list_prompts=self._list_prompts,
                on_get_prompt=self._get_prompt,
                on_completion=self._complete,
                on_set_logging_level=self._set_level,
                # the current revision's change notifications: a listen stream per client
                on_subscriptions_listen=ListenHandler(self._bus),
            )

    def initialization_options(self) -> Any:
        return self.server.create_initialization_options(
            NotificationOptions(tools_changed=True, resources_changed=True)
        )

    # ------------------------------------------------------------------ the tool registry
    def tools(self) -> dict[str, Tool]:
        """The tools for the current API schema and operation set (rebuilt when either
        changes)."""
        if self.operations.changed():
            self.operations = OperationSet.load(self.operations.folder)
        key = (self.backend.generation(), self.operations.stamp, self.config.mutations)
        if key != self._key:
            self._tools = self._build()
            self._key = key
        return self._tools

    def _build(self) -> dict[str, Tool]:
        schema = self.backend.api_schema()
        if schema is None:
            return {}
        specs = [s for s in self.operations.operations.values()]
        if self.config.manifest_tools:
            for op in self.backend.manifest_operations():
                name = snake_case(op.name or f"operation_{op.id[:12]}")
                if name not in self.operations.operations:
                    description = f"The trusted operation {op.name or op.id}."
                    specs.append(OperationSpec(name, op.body, description, source="manifest"))
        tools: dict[str, Tool] = {}
        for spec in specs:
            tool = self._tool(schema, spec)
            if tool is not None:
                tools[spec.name] = tool
        if self.config.dev_tools:
            for tool in dev_tools():
                tools[tool.tool.name] = tool
        return tools

    def _tool(self, schema: GraphQLSchema, spec: OperationSpec) -> Tool | None:
        compiled = self.backend.compile(spec.text)
        if compiled.document is None or compiled.errors:
            log.warning("MCP operation %s is not valid: %s", spec.name, "; ".join(compiled.errors))
            return None
        operations = [
            d for d in compiled.document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        if len(operations) != 1 or operations[0].operation == OperationType.SUBSCRIPTION:
            log.warning("MCP operation %s must hold one query or mutation", spec.name)
            return None
        operation = operations[0]
        fragments = {
            d.name.value: d
            for d in compiled.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        kind = operation.operation.value
        read_only = kind == "query"
        inputs = input_schema(schema, operation, self.operations.argument_descriptions)
        annotations = types.ToolAnnotations(
            title=spec.title,
            read_only_hint=read_only,
            destructive_hint=spec.destructive if not read_only else False,
            idempotent_hint=read_only or not spec.destructive,
            open_world_hint=False,
        )
        description = spec.description or f"Runs the GraphQL {kind} {spec.name}."
        if not read_only:
            description += "\n\nChanges data."
        tool = types.Tool(
            name=spec.name,
            title=spec.title,
            description=description,
            input_schema=inputs,
            output_schema=output_schema(schema, operation, fragments),
            annotations=annotations,
        )
        return Tool(
            spec,
            kind,
            tool,
            enabled=(read_only or self.config.mutations) and not spec.hidden,
            validator=jsonschema.Draft202012Validator(inputs),
            document=compiled.document,
        )

    def documents(self) -> list[DocumentNode]:
        """The operations of the tools offered now, as the router parsed and validated them
        (what reads them, such as the scopes the tools need, needs no parser of its own)."""
        return [t.document for t in self.tools().values() if t.enabled and t.document is not None]

    # ------------------------------------------------------------------ sessions
    def _remember(self, ctx: Any) -> None:
        connection = getattr(ctx.session, "_connection", None)
        if connection is not None:
            self._sessions.pop(id(connection), None)
            self._sessions[id(connection)] = ctx.session
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.pop(next(iter(self._sessions)))

    def _caller_headers(self, ctx: Any) -> dict[str, str]:
        headers = dict(self.headers)
        request = getattr(ctx, "request", None)
        received = getattr(request, "headers", None)
        if received is not None:
            for name, value in received.items():
                if name.lower() in ("authorization", "x-api-key", "accept-language", "traceparent"):
                    headers[name.lower()] = value
        return headers

    async def watch(self, interval: float = 1.0) -> None:
        """Tell every connected client when the tools change (a supergraph or operation-set
        reload)."""
        self.tools()
        while True:
            await asyncio.sleep(interval)
            before = self._key
            try:
                self.tools()
            except Exception:  # a broken operation set keeps the tools as they were
                log.exception("MCP operation set reload failed")
                continue
            if self._key != before:
                await self.notify_tools_changed()

    async def notify_tools_changed(self) -> None:
        await self._bus.publish(ToolsListChanged())
        for key, session in list(self._sessions.items()):
            try:
                await session.send_tool_list_changed()
            except Exception:  # a client gone away
                self._sessions.pop(key, None)

    # ------------------------------------------------------------------ tools
    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        self._remember(ctx)
        return types.ListToolsResult(tools=[t.tool for t in self.tools().values() if t.enabled])

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> Any:
        self._remember(ctx)
        tool = self.tools().get(params.name)
        if tool is None or tool.spec.hidden:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        started = time.perf_counter()
        outcome = "cancelled"
        try:
            with self.metrics.span(params.name):
                result = await self._call(ctx, tool, params.name, dict(params.arguments or {}))
            outcome = "error" if result.is_error else "ok"
            return result
        finally:
            seconds = time.perf_counter() - started
            self.metrics.record(params.name, outcome, seconds)
            log.info(
                "mcp tool call",
                extra={
                    "client_name": CLIENT_NAME,
                    "tool": params.name,
                    "outcome": outcome,
                    "duration_ms": round(seconds * 1000, 2),
                },
            )

    async def _call(
        self, ctx: Any, tool: Tool, name: str, arguments: dict[str, Any]
    ) -> types.CallToolResult:
        try:
            if not tool.enabled:
                raise ToolError(
                    f"{name} changes data, and this server does not run mutations "
                    "(GATEWAY_MCP_MUTATIONS is off)."
                )
            problems = sorted(tool.validator.iter_errors(arguments), key=lambda e: list(e.path))
            if problems:
                raise ToolError(
                    "Invalid arguments: "
                    + "; ".join(_problem(e) for e in problems)
                    + ". Fix them and call the tool again."
                )
            if tool.spec.destructive and not await self._confirmed(ctx, tool, arguments):
                raise ToolError("The user did not confirm this action; nothing was changed.")
            await self._log(ctx, "info", {"tool": name, "arguments": arguments})
            await ctx.session.report_progress(0, 1, f"running {name}")
            if tool.spec.name in DEV_TOOLS:
                result = await self._dev_tool(ctx, tool, arguments)
            else:
                body = await self._run(ctx, tool.kind, tool.spec.text, arguments)
                result = self._result(body)
            await ctx.session.report_progress(1, 1, "done")
            return result
        except ToolError as exc:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=str(exc))], is_error=True
            )

    async def _run(
        self, ctx: Any, kind: str, text: str, variables: Mapping[str, Any]
    ) -> dict[str, Any]:
        """One operation through the gateway, within the tool timeout; a query is tried
        again after a failure or time-out, a mutation never."""
        headers = self._caller_headers(ctx)
        attempts = 1 + (self.config.retries if kind == "query" else 0)
        params = {"query": text, "variables": dict(variables)}
        for attempt in range(attempts):
            try:
                async with asyncio.timeout(self.config.tool_timeout):
                    body = await self.backend.execute(params, headers)
            except TimeoutError:
                if attempt + 1 < attempts:
                    continue
                raise ToolError(
                    f"The gateway did not answer within {self.config.tool_timeout:g} seconds."
                ) from None
            if attempt + 1 < attempts and _transient(body):
                continue
            return body
        raise ToolError("The gateway did not answer.")  # pragma: no cover

    def _result(self, body: Mapping[str, Any]) -> types.CallToolResult:
        data = body.get("data")
        errors = body.get("errors") or []
        messages = [_error_text(e) for e in errors if isinstance(e, Mapping)]
        if data is None:
            text = "The operation failed: " + " ".join(messages or ["no data."])
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=text)], is_error=True
            )
        data, note = trim(data, self.config.max_output_bytes)
        text = orjson.dumps(data).decode()
        if note:
            text += "\n\n" + note
        if messages:
            text += "\n\nSome fields failed: " + " ".join(messages)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=data
        )

    async def _confirmed(self, ctx: Any, tool: Tool, arguments: Mapping[str, Any]) -> bool:
        """Ask the user to confirm a destructive call where the client can be asked; a client
        that cannot has the tool's `destructiveHint` to act on."""
        capabilities = ctx.session.client_capabilities
        if capabilities is None or capabilities.elicitation is None:
            return True
        if not ctx.session.can_send_request:
            return True
        try:
            answer = await ctx.session.elicit_form(
                f"Confirm: {tool.tool.title or tool.spec.name} with "
                f"{orjson.dumps(dict(arguments)).decode()}?",
                {
                    "type": "object",
                    "properties": {"confirm": {"type": "boolean", "title": "Go ahead"}},
                    "required": ["confirm"],
                },
                related_request_id=ctx.request_id,
            )
        except Exception:
            log.warning("MCP confirmation could not be asked", exc_info=True)
            return False
        return answer.action == "accept" and bool((answer.content or {}).get("confirm"))

    # ------------------------------------------------------------------ dev tools
    async def _dev_tool(
        self, ctx: Any, tool: Tool, arguments: Mapping[str, Any]
    ) -> types.CallToolResult:
        schema = self.backend.api_schema()
        if schema is None:
            raise ToolError("No supergraph is loaded yet.")
        if tool.spec.name == "search_schema":
            sdl = schema_slice(schema, str(arguments.get("keywords", "")))
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=sdl or "Nothing matches.")]
            )
        query = str(arguments.get("query", ""))
        compiled = self.backend.compile(query)
        if compiled.document is None or compiled.errors:
            raise ToolError("The operation is not valid: " + " ".join(compiled.errors))
        kinds = {
            d.operation.value
            for d in compiled.document.definitions
            if isinstance(d, OperationDefinitionNode)
        }
        if "subscription" in kinds:
            raise ToolError("Subscriptions cannot run as a tool.")
        if "mutation" in kinds and not self.config.mutations:
            raise ToolError("This server does not run mutations (GATEWAY_MCP_MUTATIONS is off).")
        params: dict[str, Any] = {"query": query, "variables": arguments.get("variables") or {}}
        if arguments.get("operationName"):
            params["operationName"] = arguments["operationName"]
        kind = "mutation" if "mutation" in kinds else "query"
        body = await self._run(ctx, kind, query, params["variables"])
        result = self._result(body)
        return types.CallToolResult(content=result.content, is_error=result.is_error)

    # ------------------------------------------------------------------ resources
    async def _list_resources(self, ctx: Any, params: Any) -> types.ListResourcesResult:
        self._remember(ctx)
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=SCHEMA_URI,
                    name="schema",
                    title="GraphQL API schema",
                    description="The gateway's API schema (SDL): every type and field a tool "
                    "or operation can use.",
                    mime_type="application/graphql",
                )
            ]
        )

    async def _list_resource_templates(
        self, ctx: Any, params: Any
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=t.uri_template,
                    name=t.name,
                    description=t.description,
                    mime_type=t.mime_type,
                )
                for t in self.operations.resource_templates
            ]
        )

    async def _read_resource(
        self, ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        if uri == SCHEMA_URI:
            schema = self.backend.api_schema()
            if schema is None:
                raise MCPError(code=types.INTERNAL_ERROR, message="No supergraph loaded.")
            return types.ReadResourceResult(
                contents=[
                    types.TextResourceContents(
                        uri=uri, mime_type="application/graphql", text=print_schema(schema)
                    )
                ]
            )
        for template in self.operations.resource_templates:
            variables = match_template(template.uri_template, uri)
            if variables is None:
                continue
            tool = self.tools().get(template.operation)
            if tool is None:
                break
            body = await self._run(ctx, tool.kind, tool.spec.text, variables)
            if body.get("data") is None:
                raise MCPError(code=types.INVALID_PARAMS, message=f"Cannot read {uri}.")
            return types.ReadResourceResult(
                contents=[
                    types.TextResourceContents(
                        uri=uri,
                        mime_type=template.mime_type,
                        text=orjson.dumps(body["data"]).decode(),
                    )
                ]
            )
        raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown resource: {uri}")

    # ------------------------------------------------------------------ prompts
    async def _list_prompts(self, ctx: Any, params: Any) -> types.ListPromptsResult:
        return types.ListPromptsResult(
            prompts=[
                types.Prompt(
                    name=p.name,
                    description=p.description,
                    arguments=[
                        types.PromptArgument(
                            name=a["name"],
                            description=a.get("description"),
                            required=bool(a.get("required", False)),
                        )
                        for a in p.arguments
                    ],
                )
                for p in self.operations.prompts.values()
            ]
        )

    async def _get_prompt(
        self, ctx: Any, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        prompt = self.operations.prompts.get(params.name)
        if prompt is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown prompt: {params.name}")
        given = dict(params.arguments or {})
        values: dict[str, str] = {}
        for argument in prompt.arguments:
            name = argument["name"]
            if name in given:
                values[name] = str(given[name])
            elif argument.get("required"):
                raise MCPError(code=types.INVALID_PARAMS, message=f"Missing argument: {name}")
            else:
                values[name] = str(argument.get("default", "any"))
        return types.GetPromptResult(
            description=prompt.description,
            messages=[
                types.PromptMessage(
                    role="user",
                    content=types.TextContent(type="text", text=prompt.template.format(**values)),
                )
            ],
        )

    # ------------------------------------------------------------------ completion
    async def _complete(
        self, ctx: Any, params: types.CompleteRequestParams
    ) -> types.CompleteResult:
        argument = params.argument.name
        typed = params.argument.value or ""
        spec = self.operations.completions.get(argument)
        found: list[str] = []
        if spec is not None and spec.operation is None:
            found = list(spec.values)
        elif spec is not None and spec.operation is not None:
            tool = self.tools().get(spec.operation)
            if tool is not None:
                variables = {spec.prefix_variable: typed} if spec.prefix_variable else {}
                try:
                    body = await self._run(ctx, "query", tool.spec.text, variables)
                except ToolError:
                    body = {}
                found = [str(v) for v in values_at(body.get("data") or {}, spec.path)]
        folded = typed.lower()
        values = list(dict.fromkeys(v for v in found if not folded or folded in v.lower()))
        return types.CompleteResult(
            completion=types.Completion(
                values=values[:100], total=len(values), has_more=len(values) > 100
            )
        )

    # ------------------------------------------------------------------ logging
    async def _set_level(self, ctx: Any, params: types.SetLevelRequestParams) -> Any:
        connection = getattr(ctx.session, "_connection", None)
        self._levels[id(connection)] = params.level
        return types.EmptyResult()

    async def _log(self, ctx: Any, level: str, data: Any) -> None:
        connection = getattr(ctx.session, "_connection", None)
        wanted = self._levels.get(id(connection))
        # handshake revisions: the level `logging/setLevel` chose; the current revision asks
        # per request (the SDK sends only what that request opted in to)
        modern = ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS
        if not modern and (wanted is None or LEVELS.index(level) < LEVELS.index(wanted)):
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                await ctx.session.send_log_message(
                    level, data, logger="gateway", related_request_id=ctx.request_id
                )
            except Exception:
                return


# ---------------------------------------------------------------------- helpers
class AgentMetrics:
    """Agent traffic in the gateway's metrics and traces: tool calls by tool and outcome, their
    duration, and a span per call (`client.name=mcp`) that the operation's own span sits
    under. `telemetry`: the edge's (its registry and tracer); None: nothing recorded."""

    def __init__(self, telemetry: Any) -> None:
        self.tracer = getattr(telemetry, "tracer", None)
        registry = getattr(telemetry, "registry", None)
        self.calls: Any = None
        self.duration: Any = None
        if registry is None:
            return
        from prometheus_client import Counter, Histogram

        try:
            self.calls = Counter(
                "gateway_mcp_tool_calls",
                "MCP tool calls (agent traffic), by tool and outcome.",
                ("tool", "outcome"),
                registry=registry,
            )
            self.duration = Histogram(
                "gateway_mcp_tool_call_duration_seconds",
                "Time to answer an MCP tool call, by tool.",
                ("tool",),
                registry=registry,
            )
        except ValueError:  # a second server on the same registry: counted by the first
            self.calls = self.duration = None

    def span(self, tool: str) -> Any:
        if self.tracer is None:
            return contextlib.nullcontext()
        return self.tracer.start_as_current_span(
            "mcp tools/call",
            attributes={"client.name": CLIENT_NAME, "mcp.tool.name": tool},
        )

    def record(self, tool: str, outcome: str, seconds: float) -> None:
        if self.calls is not None:
            self.calls.labels(tool, outcome).inc()
            self.duration.labels(tool).observe(seconds)


DEV_TOOLS = ("search_schema", "execute")


def dev_tools() -> list[Tool]:
    search_input = {
        "type": "object",
        "properties": {
            "keywords": {
                "type": "string",
                "description": "Words to look for in type, field and argument names and "
                "descriptions, e.g. 'watchlist device'.",
            }
        },
        "required": ["keywords"],
        "additionalProperties": False,
    }
    execute_input = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "A GraphQL query document."},
            "variables": {"type": "object", "description": "The operation's variables."},
            "operationName": {"type": "string"},
        },
        "required": ["query"],
        "additionalProperties": False,
    }
    return [
        Tool(
            OperationSpec("search_schema", "", "dev"),
            "query",
            types.Tool(
                name="search_schema",
                description="Find the part of the GraphQL schema that matters for a task: the "
                "types whose names, fields or descriptions match the keywords, as SDL.",
                input_schema=search_input,
                annotations=types.ToolAnnotations(read_only_hint=True, idempotent_hint=True),
            ),
            True,
            jsonschema.Draft202012Validator(search_input),
        ),
        Tool(
            OperationSpec("execute", "", "dev"),
            "query",
            types.Tool(
                name="execute",
                description="Run any GraphQL query against the gateway (use search_schema "
                "first to learn the fields). Mutations only where the server allows them.",
                input_schema=execute_input,
                annotations=types.ToolAnnotations(read_only_hint=False, open_world_hint=False),
            ),
            True,
            jsonschema.Draft202012Validator(execute_input),
        ),
    ]


def schema_slice(schema: GraphQLSchema, keywords: str) -> str:
    """The SDL of the named types that match any keyword (in the type's name, a field's or
    argument's name, or a description), the root types' matching fields first."""
    words = [w.lower() for w in keywords.replace(",", " ").split() if w]
    if not words:
        return ""
    printed = print_schema(schema)
    blocks = [b for b in printed.split("\n\n") if b.strip()]
    scored: list[tuple[int, str]] = []
    for block in blocks:
        lowered = block.lower()
        score = sum(lowered.count(w) for w in words)
        if score:
            scored.append((score, block))
    scored.sort(key=lambda s: -s[0])
    return "\n\n".join(b for _, b in scored[:12])


def match_template(template: str, uri: str) -> dict[str, str] | None:
    import re

    pattern = re.escape(template)
    names = re.findall(r"\\\{(\w+)\\\}", pattern)
    for name in names:
        pattern = pattern.replace(f"\\{{{name}\\}}", f"(?P<{name}>[^/]+)")
    match = re.fullmatch(pattern, uri)
    return match.groupdict() if match else None


def trim(data: Any, cap: int) -> tuple[Any, str | None]:
    """`data` cut to about `cap` bytes of JSON: the longest lists lose their last items and
    long strings their end; the note says how much was left out."""
    size = len(orjson.dumps(data))
    if size <= cap:
        return data, None
    data = orjson.loads(orjson.dumps(data))
    omitted = 0
    for _ in range(64):
        longest = _longest_list(data)
        if longest is None or len(longest) <= 1:
            break
        keep = max(1, len(longest) // 2)
        omitted += len(longest) - keep
        del longest[keep:]
        if len(orjson.dumps(data)) <= cap:
            break
    if len(orjson.dumps(data)) > cap:
        _cut_strings(data, max(64, cap // 20))
    note = (
        f"(Output trimmed to {cap} bytes: {omitted} more items exist. Ask for fewer items "
        "(e.g. a smaller `first`) or narrow the filters to see the rest.)"
    )
    return data, note


def _longest_list(value: Any) -> list[Any] | None:
    best: list[Any] | None = None
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            if best is None or len(item) > len(best):
                best = item
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return best


def _cut_strings(value: Any, limit: int) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and len(v) > limit:
                value[k] = v[:limit] + "…"
            else:
                _cut_strings(v, limit)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, str) and len(v) > limit:
                value[i] = v[:limit] + "…"
            else:
                _cut_strings(v, limit)


def _problem(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.path)
    return f"{where}: {error.message}" if where else error.message


def _error_text(error: Mapping[str, Any]) -> str:
    message = str(error.get("message", "error"))
    code = (error.get("extensions") or {}).get("code")
    return f"{message} ({code})" if code else message


def _transient(body: Mapping[str, Any]) -> bool:
    """A failure worth another attempt: no data, and an error of the subgraphs or of time."""
    if body.get("data") is not None:
        return False
    codes = {
        (e.get("extensions") or {}).get("code")
        for e in body.get("errors") or ()
        if isinstance(e, Mapping)
    }
    return bool(codes & {"SUBGRAPH_ERROR", "GATEWAY_TIMEOUT", "SERVICE_UNAVAILABLE", "TIMEOUT"})
