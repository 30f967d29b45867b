"""`media-gateway mcp`: the MCP server over standard input and output, for desktop agents.

Against the embedded platform (the default: the gateway and every subgraph in this process,
the platform's operation set as tools) or a running gateway (`--url`: every message goes on
to its `/mcp`). The caller is who the credential says: an API key
(`MEDIA_GATEWAY_API_KEY`), an access token (`MEDIA_GATEWAY_TOKEN`), or one obtained by
device sign-in (`--sign-in`: approve the code shown on standard error from a signed-in
phone or browser).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "mcp", help="the MCP server over standard input and output (for desktop agents)"
    )
    command.add_argument(
        "--url",
        default=os.environ.get("MEDIA_GATEWAY_URL") or None,
        help="a running gateway to relay to (default: the embedded platform in this process)",
    )
    command.add_argument(
        "--sign-in",
        action="store_true",
        help="sign in with a code approved on another device (RFC 8628) instead of a key",
    )
    command.add_argument("--client-id", default=None, help="OAuth client id for --sign-in")
    command.add_argument("--scope", default=None, help="scopes to ask for with --sign-in")
    command.add_argument(
        "--supergraph", default=None, help="supergraph SDL file (default: the committed one)"
    )
    command.set_defaults(func=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    from media_gateway.app.serve import run_event_loop
    from media_gateway.platform.logging import configure_logging
    from media_gateway.platform.settings import get_settings

    settings = get_settings()
    # standard output carries the protocol: logs go to standard error
    configure_logging(settings.log_level, json_lines=settings.log_json)
    api_key = os.environ.get("MEDIA_GATEWAY_API_KEY") or None
    token = os.environ.get("MEDIA_GATEWAY_TOKEN") or None
    try:
        if args.url:
            run_event_loop(remote(args, api_key, token))
        else:
            supergraph = Path(args.supergraph).expanduser() if args.supergraph else None
            run_event_loop(embedded(args, api_key, token, supergraph))
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # a failed start: one line for the user, never a traceback
        from media_gateway.gateway.mcp.signin import SignInError

        if not isinstance(exc, SignInError | OSError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


async def remote(args: argparse.Namespace, api_key: str | None, token: str | None) -> None:
    from media_gateway.gateway.mcp.signin import device_sign_in
    from media_gateway.gateway.mcp.stdio import bridge_stdio, credential_headers

    base = args.url.rstrip("/").removesuffix("/mcp").removesuffix("/graphql")
    if args.sign_in:
        signed = await device_sign_in(
            base, client_id=args.client_id, scope=args.scope, resource=f"{base}/mcp"
        )
        token = signed.access_token
    await bridge_stdio(base, credential_headers(api_key, token))


async def embedded(
    args: argparse.Namespace, api_key: str | None, token: str | None, supergraph: Path | None
) -> None:
    import httpx

    from media_gateway.app import Platform
    from media_gateway.app.authn import platform_authenticator
    from media_gateway.app.serve import MCP_OPERATIONS, SUPERGRAPH_PATH, load_supergraph
    from media_gateway.gateway.cli import edge_config
    from media_gateway.gateway.clients import InProcessClient
    from media_gateway.gateway.mcp.app import mcp_gateway
    from media_gateway.gateway.mcp.config import McpConfig
    from media_gateway.gateway.mcp.signin import device_sign_in
    from media_gateway.gateway.mcp.stdio import credential_headers, serve_stdio
    from media_gateway.gateway.state import GatewayConfig, GatewayState

    sdl = load_supergraph(supergraph or SUPERGRAPH_PATH)
    # nothing but the protocol on standard output, whatever starting the platform prints
    with contextlib.redirect_stdout(sys.stderr):
        platform = Platform.create()
        await platform.startup()
    try:
        settings = platform.runtime.settings
        state = GatewayState(
            GatewayConfig(
                supergraph_sdl=sdl,
                clients={
                    name: InProcessClient(subgraph.schema, subgraph.context)
                    for name, subgraph in platform.subgraphs.items()
                },
                edge=edge_config(),
                authenticator=platform_authenticator(settings, platform.runtime.database),
            )
        )
        await state.start()
        try:
            if args.sign_in:
                identity = httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=platform["identity"].asgi_app()),
                    base_url="http://identity",
                )
                async with identity:
                    signed = await device_sign_in(
                        "http://identity",
                        client_id=args.client_id,
                        scope=args.scope,
                        http=identity,
                    )
                token = signed.access_token
            config = McpConfig.from_env(operations=MCP_OPERATIONS)
            gateway = mcp_gateway(state, config)
            gateway.headers.update(credential_headers(api_key, token))
            await serve_stdio(gateway)
        finally:
            await state.stop()
    finally:
        await platform.shutdown()
