"""The done-when story: an agent over HTTP and over STDIO finds a film, sees where to watch
it, adds it to the watchlist and pauses the TV, each under the caller's own permissions;
and what a caller may not do stays refused (a kids profile, mutations turned off)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import mcp.types as types
from mcp.client import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from .conftest import (
    Client,
    Viewer,
    connect_http,
    pending_commands,
    profile_token,
)


async def story(client: ClientSession, gateway: Client, viewer: Viewer) -> None:
    """Find a film, see where to watch it, add it to the watchlist, pause the TV."""
    found = await client.call_tool(
        "search_titles", {"query": "space", "filters": {"kinds": ["MOVIE"]}, "first": 5}
    )
    assert not found.is_error, found.content
    films = found.structured_content["search"]["nodes"]
    assert films and all(f["__typename"] == "Movie" for f in films)
    film = films[0]

    details = await client.call_tool("title_details", {"id": film["id"], "region": "US"})
    assert not details.is_error, details.content
    offers = details.structured_content["content"]["availability"]
    assert offers and all(o["region"] == "US" and o["deepLink"] for o in offers)

    added = await client.call_tool("add_to_watchlist", {"contentId": film["id"]})
    assert not added.is_error, added.content
    watchlist = await client.call_tool("my_watchlist", {})
    entries = watchlist.structured_content["me"]["watchlistEntries"]
    assert film["id"] in [e["content"]["id"] for e in entries]

    devices = await client.call_tool("my_devices", {})
    tv = next(
        d
        for d in devices.structured_content["me"]["devices"]
        if d["kind"] == "TV" and "REMOTE_CONTROL" in d["capabilities"]
    )
    assert tv["id"] == viewer.tv
    paused = await client.call_tool(
        "send_remote_command", {"targetDeviceId": tv["id"], "command": {"type": "PAUSE"}}
    )
    assert not paused.is_error, paused.content
    # the TV receives it: it is waiting for the device
    commands = await pending_commands(gateway, viewer.token, viewer.tv)
    assert {"type": "PAUSE", "targetDeviceId": viewer.tv} in commands


async def test_the_story_over_http(serve_gateway, gateway: Client, viewer: Viewer) -> None:
    url = await serve_gateway(mutations=True)
    async with connect_http(url, {"x-api-key": viewer.api_key}) as client:
        await story(client, gateway, viewer)


def platform_env(settings: Any, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update(
        MEDIA_GATEWAY_DATA_DIR=str(settings.data_dir),
        DATABASE_URL=settings.database_url,
        LOG_LEVEL="WARNING",
    )
    if settings.database_schema:
        env["DATABASE_SCHEMA"] = settings.database_schema
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env.update(extra)
    return env


@asynccontextmanager
async def connect_stdio(
    env: dict[str, str], *args: str, **session: Any
) -> AsyncIterator[ClientSession]:
    """`media-gateway mcp` started as a desktop agent starts it."""
    parameters = StdioServerParameters(
        command=sys.executable, args=["-m", "media_gateway.cli", "mcp", *args], env=env
    )
    async with (
        stdio_client(parameters) as (read, write),
        ClientSession(read, write, **session) as client,
    ):
        await client.initialize()
        yield client


async def test_the_story_over_stdio(settings, gateway: Client, viewer: Viewer) -> None:
    env = platform_env(settings, MEDIA_GATEWAY_API_KEY=viewer.api_key, GATEWAY_MCP_MUTATIONS="1")
    async with connect_stdio(env) as client:
        await story(client, gateway, viewer)


async def _rated(gateway: Client, rating: str) -> str:
    body = await gateway(
        'query($f: SearchFilters) { search(query: "", filters: $f, first: 50) '
        "{ nodes { id contentRating } } }",
        {"f": {"contentRatings": [rating]}},
    )
    return next(n["id"] for n in body["data"]["search"]["nodes"] if n["contentRating"] == rating)


async def test_a_kids_profile_may_not_add_an_r_rated_film(
    settings, gateway: Client, member: dict[str, Any]
) -> None:
    _, kids = await profile_token(gateway, member["token"], name="Kids", kids=True)
    r_rated = await _rated(gateway, "R")
    env = platform_env(settings, MEDIA_GATEWAY_TOKEN=kids, GATEWAY_MCP_MUTATIONS="1")
    async with connect_stdio(env) as client:
        refused = await client.call_tool("add_to_watchlist", {"contentId": r_rated})
        details = await client.call_tool("title_details", {"id": r_rated})
    assert refused.is_error and "FORBIDDEN" in refused.content[0].text
    # nor does the title show
    assert details.structured_content["content"] is None


async def test_a_mutation_is_refused_while_mutations_are_off(
    serve_gateway, gateway: Client, viewer: Viewer
) -> None:
    url = await serve_gateway(mutations=False)
    async with connect_http(url, {"x-api-key": viewer.api_key}) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        found = await client.call_tool("search_titles", {"query": "space", "first": 1})
        film = found.structured_content["search"]["nodes"][0]["id"]
        refused = await client.call_tool("add_to_watchlist", {"contentId": film})
        watchlist = await client.call_tool("my_watchlist", {})
    assert "add_to_watchlist" not in tools and "send_remote_command" not in tools
    assert refused.is_error and "does not run mutations" in refused.content[0].text
    assert watchlist.structured_content["me"]["watchlistEntries"] == []


async def test_an_anonymous_caller_gets_no_private_data(serve_gateway) -> None:
    url = await serve_gateway(mutations=True)
    async with connect_http(url) as client:
        result = await client.call_tool("my_watchlist", {})
    assert result.is_error or result.structured_content["me"] is None


async def test_the_story_over_stdio_relayed_to_a_running_gateway(
    settings, serve_gateway, gateway: Client, viewer: Viewer
) -> None:
    url = await serve_gateway(mutations=True)
    env = platform_env(settings, MEDIA_GATEWAY_API_KEY=viewer.api_key)
    asked: list[str] = []

    async def decline(context: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="decline")

    async with connect_stdio(env, "--url", url) as client:
        await story(client, gateway, viewer)
        # the remote server's errors come back as they are
        bad = await client.call_tool("title_details", {"region": "US"})
        assert bad.is_error and "Invalid arguments" in bad.content[0].text
    # the remote server's question reaches a client that can be asked
    async with connect_stdio(env, "--url", url, elicitation_callback=decline) as client:
        kept = await client.call_tool(
            "send_remote_command", {"targetDeviceId": viewer.tv, "command": {"type": "STOP"}}
        )
    assert asked and kept.is_error and "did not confirm" in kept.content[0].text
    assert "STOP" not in [
        c["type"] for c in await pending_commands(gateway, viewer.token, viewer.tv)
    ]
