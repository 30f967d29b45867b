"""GraphQL over WebSocket: graphql-transport-ws and the legacy graphql-ws protocol.

Credentials come in the ``connection_init`` payload (``{"authorization": "Bearer ..."}``,
``{"token": ...}`` or ``{"headers": {...}}``) or the handshake's headers; credentials that
are presented and refused (forged, expired, revoked) close the connection with 4403, as the
protocol's reference server does. Queries and mutations are answered with one result;
subscriptions stream until completed. When the access token expires during the connection it
closes with 4401 ("Unauthorized: access token expired"); credentials are checked again every
few seconds, so a session revoked meanwhile closes it with 4403. Close codes: 4400 (a
malformed message or connection_init payload), 4401 (subscribe before the acknowledgement),
4403, 4406 (no supported subprotocol), 4408 (no connection_init in time), 4409 (a duplicate
operation id), 4429 (a second connection_init).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from .subscriptions import Answer, PayloadStream, Start, TokenExpired, headers_from_init

log = logging.getLogger("media_gateway.gateway.ws")

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
INIT_TIMEOUT = 10.0
KEEPALIVE_SECONDS = 15.0
# how often an open connection's credentials are checked again (a session revoked since the
# connection began ends it with 4403)
RECHECK_SECONDS = 5.0
EXPIRED = (4401, "Unauthorized: access token expired")


# whether a connection's credentials are acceptable (False: presented and refused)
CredentialsCheck = Callable[[Mapping[str, str]], Awaitable[bool]]


async def _accept_any(headers: Mapping[str, str]) -> bool:
    return True


class _Connection:
    def __init__(
        self,
        websocket: WebSocket,
        start: Start,
        base_headers: Mapping[str, str],
        credentials_ok: CredentialsCheck = _accept_any,
    ) -> None:
        self.ws = websocket
        self.start = start
        self.credentials_ok = credentials_ok
        self.headers: dict[str, str] = dict(base_headers)
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.acknowledged = False
        self.closed = False
        self._watch: asyncio.Task[None] | None = None
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_text(orjson.dumps(message).decode())
            except (RuntimeError, WebSocketDisconnect, OSError):
                self.closed = True

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await self.ws.close(code, reason)

    def cancel_all(self) -> None:
        for task in self.operations.values():
            task.cancel()
        self.operations.clear()
        if self._watch is not None:
            self._watch.cancel()

    def watch_credentials(self, refused: Callable[[], Awaitable[None]]) -> None:
        """Check the connection's credentials again every `RECHECK_SECONDS` while it is open,
        and call `refused` once they are refused (a revoked session)."""
        if "authorization" not in self.headers or self._watch is not None:
            return

        async def watch() -> None:
            while not self.closed:
                await asyncio.sleep(RECHECK_SECONDS)
                if not self.closed and not await self.credentials_ok(self.headers):
                    await refused()
                    return

        self._watch = asyncio.create_task(watch())

    async def run_operation(
        self,
        op_id: str,
        payload: Mapping[str, Any],
        on_result: Callable[[dict[str, Any]], Awaitable[None]],
        on_request_error: Callable[[list[dict[str, Any]]], Awaitable[None]],
        on_complete: Callable[[], Awaitable[None]],
        on_expired: Callable[[], Awaitable[None]],
    ) -> None:
        stream: PayloadStream | None = None
        try:
            try:
                opened = await self.start(payload, self.headers)
            except TokenExpired:
                await on_expired()
                return
            if isinstance(opened, Answer):
                if opened.error:
                    await on_request_error(list(opened.body.get("errors") or []))
                else:
                    await on_result(opened.body)
                    await on_complete()
                return
            stream = opened
            try:
                async for body in stream:
                    await on_result(body)
            except TokenExpired:
                await on_expired()
                return
            await on_complete()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("websocket operation failed")
            await on_request_error(
                [
                    {
                        "message": "Internal server error.",
                        "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                    }
                ]
            )
        finally:
            if stream is not None:
                await stream.aclose()
            self.operations.pop(op_id, None)


async def _transport_ws(conn: _Connection) -> None:
    """graphql-transport-ws (the protocol of the ``graphql-ws`` library)."""

    async def init_timeout() -> None:
        await asyncio.sleep(INIT_TIMEOUT)
        if not conn.acknowledged:
            await conn.close(4408, "Connection initialisation timeout")

    timer = asyncio.create_task(init_timeout())
    try:
        while not conn.closed:
            try:
                raw = await conn.ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await conn.close(4400, "Invalid message received")
                return
            if not isinstance(message, dict):
                await conn.close(4400, "Invalid message received")
                return
            kind = message.get("type")
            if kind == "connection_init":
                if conn.acknowledged:
                    await conn.close(4429, "Too many initialisation requests")
                    return
                payload = message.get("payload")
                if payload is not None and not isinstance(payload, dict):
                    await conn.close(4400, "Invalid connection_init payload")
                    return
                conn.headers.update(headers_from_init(payload))
                if not await conn.credentials_ok(conn.headers):
                    await conn.close(4403, "Forbidden")
                    return
                conn.acknowledged = True
                await conn.send({"type": "connection_ack"})
                conn.watch_credentials(lambda: conn.close(4403, "Forbidden"))
            elif kind == "ping":
                await conn.send({"type": "pong"})
            elif kind == "pong":
                continue
            elif kind == "subscribe":
                if not conn.acknowledged:
                    await conn.close(4401, "Unauthorized")
                    return
                op_id, payload = message.get("id"), message.get("payload")
                if not isinstance(op_id, str) or not isinstance(payload, dict):
                    await conn.close(4400, "Invalid message received")
                    return
                if op_id in conn.operations:
                    await conn.close(4409, f"Subscriber for {op_id} already exists")
                    return
                conn.operations[op_id] = asyncio.create_task(_transport_op(conn, op_id, payload))
            elif kind == "complete":
                task = conn.operations.pop(str(message.get("id")), None)
                if task is not None:
                    task.cancel()
            else:
                await conn.close(4400, f"Invalid message type {kind!r}")
                return
    finally:
        timer.cancel()


async def _transport_op(conn: _Connection, op_id: str, payload: Mapping[str, Any]) -> None:
    async def result(body: dict[str, Any]) -> None:
        await conn.send({"id": op_id, "type": "next", "payload": body})

    async def request_error(errors: list[dict[str, Any]]) -> None:
        await conn.send({"id": op_id, "type": "error", "payload": errors})

    async def complete() -> None:
        await conn.send({"id": op_id, "type": "complete"})

    async def expired() -> None:
        await conn.close(*EXPIRED)

    await conn.run_operation(op_id, payload, result, request_error, complete, expired)


async def _legacy_ws(conn: _Connection) -> None:
    """The legacy graphql-ws protocol (subscriptions-transport-ws)."""
    keepalive: asyncio.Task[None] | None = None

    async def ka() -> None:
        while not conn.closed:
            await conn.send({"type": "ka"})
            await asyncio.sleep(KEEPALIVE_SECONDS)

    try:
        while not conn.closed:
            try:
                raw = await conn.ws.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                await conn.send(
                    {"type": "connection_error", "payload": {"message": "Invalid JSON message."}}
                )
                continue
            if not isinstance(message, dict):
                continue
            kind = message.get("type")
            if kind == "connection_init":
                conn.headers.update(headers_from_init(message.get("payload")))
                if not await conn.credentials_ok(conn.headers):
                    await _legacy_refused(conn)
                    return
                conn.acknowledged = True
                await conn.send({"type": "connection_ack"})
                conn.watch_credentials(lambda: _legacy_refused(conn))
                if keepalive is None:
                    keepalive = asyncio.create_task(ka())
            elif kind == "start":
                op_id, payload = message.get("id"), message.get("payload")
                if not isinstance(op_id, str) or not isinstance(payload, dict):
                    await conn.send(
                        {"id": op_id, "type": "error", "payload": {"message": "Invalid message."}}
                    )
                    continue
                old = conn.operations.pop(op_id, None)
                if old is not None:
                    old.cancel()
                conn.operations[op_id] = asyncio.create_task(_legacy_op(conn, op_id, payload))
            elif kind == "stop":
                op_id = str(message.get("id"))
                task = conn.operations.pop(op_id, None)
                if task is not None:
                    task.cancel()
                    await conn.send({"id": op_id, "type": "complete"})
            elif kind == "connection_terminate":
                await conn.close(1000, "Normal closure")
                return
    finally:
        if keepalive is not None:
            keepalive.cancel()


async def _legacy_refused(conn: _Connection) -> None:
    await conn.send(
        {
            "type": "connection_error",
            "payload": {
                "message": "The credentials were refused.",
                "extensions": {"code": "FORBIDDEN"},
            },
        }
    )
    await conn.close(4403, "Forbidden")


async def _legacy_op(conn: _Connection, op_id: str, payload: Mapping[str, Any]) -> None:
    async def result(body: dict[str, Any]) -> None:
        await conn.send({"id": op_id, "type": "data", "payload": body})

    async def request_error(errors: list[dict[str, Any]]) -> None:
        await conn.send({"id": op_id, "type": "error", "payload": errors[0] if errors else {}})

    async def complete() -> None:
        await conn.send({"id": op_id, "type": "complete"})

    async def expired() -> None:
        await conn.send(
            {
                "type": "connection_error",
                "payload": {
                    "message": "Access token expired.",
                    "extensions": {"code": "UNAUTHENTICATED"},
                },
            }
        )
        await conn.close(*EXPIRED)

    await conn.run_operation(op_id, payload, result, request_error, complete, expired)


async def serve_websocket(
    websocket: WebSocket,
    start: Start,
    base_headers: Mapping[str, str],
    credentials_ok: CredentialsCheck = _accept_any,
) -> None:
    offered = websocket.scope.get("subprotocols") or []
    if TRANSPORT_WS in offered:
        protocol = TRANSPORT_WS
    elif LEGACY_WS in offered:
        protocol = LEGACY_WS
    else:
        # as graphql-transport-ws specifies: accept the upgrade, then close with 4406 (a
        # refused handshake would reach the client as an HTTP 403 with no reason)
        await websocket.accept()
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close(4406, "Subprotocol not acceptable")
        return
    await websocket.accept(subprotocol=protocol)
    conn = _Connection(websocket, start, base_headers, credentials_ok)
    try:
        if protocol == TRANSPORT_WS:
            await _transport_ws(conn)
        else:
            await _legacy_ws(conn)
    finally:
        tasks = list(conn.operations.values())
        conn.cancel_all()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await conn.close(1000, "Normal closure")
