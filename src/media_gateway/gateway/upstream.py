"""How the router subscribes to a subgraph: the events of one upstream subscription.

- A client with its own ``subscribe(document, variables, headers)`` async iterator is used
  as is.
- ``InProcessClient``: the schema's ``subscribe`` in this process (the embedded mode).
- ``HttpSubgraphClient``: graphql-transport-ws over a WebSocket to the subgraph's URL
  (``http`` becomes ``ws``), with the client's headers on the handshake and in the
  ``connection_init`` payload.

Each event is a GraphQL result: ``{"data": ..., "errors": [...]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson

from .clients import HttpSubgraphClient, InProcessClient, SubgraphFetchError

Event = dict[str, Any]
WS_PROTOCOL = "graphql-transport-ws"
ACK_TIMEOUT = 10.0


def _result(result: Any) -> Event:
    out: Event = {"data": getattr(result, "data", None)}
    errors = getattr(result, "errors", None)
    if errors:
        out["errors"] = [
            e.formatted if hasattr(e, "formatted") else {"message": str(e)} for e in errors
        ]
    return out


async def in_process_events(
    client: InProcessClient, document: str, variables: Mapping[str, Any], headers: Mapping[str, str]
) -> AsyncIterator[Event]:
    context = await client.context_factory(headers) if client.context_factory is not None else None
    result = await client.schema.subscribe(
        document, variable_values=dict(variables) or None, context_value=context
    )
    if not hasattr(result, "__aiter__"):
        yield _result(result)
        return
    try:
        async for item in result:
            yield _result(item)
    finally:
        with contextlib.suppress(Exception):
            await result.aclose()


def websocket_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


async def websocket_events(
    url: str, document: str, variables: Mapping[str, Any], headers: Mapping[str, str]
) -> AsyncIterator[Event]:
    """One graphql-transport-ws subscription to a subgraph."""
    import websockets

    forwarded = {k: v for k, v in headers.items() if k.lower() != "host"}
    try:
        connection = await websockets.connect(
            websocket_url(url),
            subprotocols=[WS_PROTOCOL],  # type: ignore[list-item]
            additional_headers=forwarded,
            open_timeout=ACK_TIMEOUT,
            max_size=8 * 1024 * 1024,
        )
    except (OSError, websockets.exceptions.WebSocketException) as exc:
        raise SubgraphFetchError(f"could not be reached: {exc.__class__.__name__}") from exc
    try:
        await connection.send(
            orjson.dumps({"type": "connection_init", "payload": dict(forwarded)}).decode()
        )
        while True:
            raw = await asyncio.wait_for(connection.recv(), ACK_TIMEOUT)
            message = orjson.loads(raw)
            if message.get("type") == "connection_ack":
                break
            if message.get("type") == "ping":
                await connection.send('{"type":"pong"}')
        op_id = uuid.uuid4().hex
        payload: dict[str, Any] = {"query": document}
        if variables:
            payload["variables"] = dict(variables)
        await connection.send(
            orjson.dumps({"id": op_id, "type": "subscribe", "payload": payload}).decode()
        )
        async for raw in connection:
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await connection.send('{"type":"pong"}')
            elif message.get("id") != op_id:
                continue
            elif kind == "next":
                event = message.get("payload")
                if isinstance(event, dict):
                    yield event
            elif kind == "error":
                errors = message.get("payload")
                yield {"data": None, "errors": errors if isinstance(errors, list) else [errors]}
                return
            elif kind == "complete":
                return
    except websockets.exceptions.ConnectionClosed as exc:
        raise SubgraphFetchError(
            f"closed the subscription ({exc.rcvd.code if exc.rcvd else 1006})"
        ) from exc
    finally:
        with contextlib.suppress(Exception):
            await connection.close()


def upstream_events(
    client: Any, document: str, variables: Mapping[str, Any], headers: Mapping[str, str]
) -> AsyncIterator[Event]:
    # clients wrapped by edge stages keep the transport client as ``inner``
    while (
        not callable(getattr(client, "subscribe", None))
        and not isinstance(client, InProcessClient | HttpSubgraphClient)
        and getattr(client, "inner", None) is not None
    ):
        client = client.inner
    subscribe = getattr(client, "subscribe", None)
    if callable(subscribe):
        events: AsyncIterator[Event] = subscribe(document, variables, headers)
        return events
    if isinstance(client, InProcessClient):
        return in_process_events(client, document, variables, headers)
    if isinstance(client, HttpSubgraphClient):
        return websocket_events(client.url, document, variables, headers)
    raise SubgraphFetchError("does not support subscriptions")
