"""Streaming GraphQL over HTTP: Server-Sent Events and Apollo multipart subscriptions.

- GraphQL over SSE (distinct connections mode): ``Accept: text/event-stream`` on POST (JSON
  body) or GET (query string); each result is ``event: next``, the end ``event: complete``.
- Apollo multipart subscriptions: ``Accept: multipart/mixed; subscriptionSpec="1.0"``; each
  part is ``{"payload": <result>}``, a heartbeat part ``{}`` keeps idle connections open, and
  a transport error is ``{"payload": null, "errors": [...]}``.

Credentials come from the request's headers. Queries and mutations sent this way get one
result. When the access token expires the stream ends with an UNAUTHENTICATED error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .subscriptions import Answer, Start, TokenExpired

SSE = "text/event-stream"
MULTIPART = "multipart/mixed"
BOUNDARY = "graphql"
HEARTBEAT_SECONDS = 5.0
SSE_KEEPALIVE_SECONDS = 12.0

EXPIRED_ERROR = {
    "message": "Access token expired.",
    "extensions": {"code": "UNAUTHENTICATED"},
}


def headers_of(request: Request) -> dict[str, str]:
    """The request's headers as a plain dict (the first of repeated names), made once per
    request: Starlette's `Headers` scans the whole list on each lookup, and the request path
    looks up a dozen names."""
    scope = request.scope
    headers: dict[str, str] | None = scope.get("gateway.headers")
    if headers is None:
        # ASGI servers give header names in lower case
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}
        scope["gateway.headers"] = headers
    return headers


def streaming_kind(request: Request) -> str | None:
    """``sse`` or ``multipart`` when the client asks for a stream."""
    accept = headers_of(request).get("accept", "").lower()
    if SSE in accept:
        return "sse"
    if MULTIPART in accept and "subscriptionspec" in accept.replace(" ", ""):
        return "multipart"
    return None


def query_string_params(query_params: Mapping[str, str]) -> dict[str, Any] | None:
    """The GraphQL request of a GET (query, operationName, variables), or None when its
    variables are not valid JSON."""
    params: dict[str, Any] = {
        "query": query_params.get("query"),
        "operationName": query_params.get("operationName") or None,
    }
    raw = query_params.get("variables")
    if raw:
        try:
            params["variables"] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    return params


async def _params(request: Request) -> dict[str, Any] | None:
    if request.method == "GET":
        return query_string_params(request.query_params)
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


async def _bodies(
    start: Start, params: Mapping[str, Any], headers: Mapping[str, str]
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """("result" | "error" | "expired", body) items for one request."""
    try:
        opened = await start(params, headers)
    except TokenExpired:
        yield "expired", {"errors": [EXPIRED_ERROR]}
        return
    if isinstance(opened, Answer):
        yield ("error" if opened.error else "result"), opened.body
        return
    try:
        async for body in opened:
            yield "result", body
    except TokenExpired:
        yield "expired", {"errors": [EXPIRED_ERROR]}
    finally:
        await opened.aclose()


async def _with_heartbeat(
    items: AsyncIterator[tuple[str, dict[str, Any]]], interval: float
) -> AsyncIterator[tuple[str, dict[str, Any]] | None]:
    """The items, with None whenever ``interval`` passes without one."""
    iterator = items.__aiter__()
    pending: asyncio.Task[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield None
                continue
            task, pending = pending, None
            try:
                yield task.result()
            except StopAsyncIteration:
                return
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                await pending
        with contextlib.suppress(Exception):
            await iterator.aclose()  # type: ignore[attr-defined]


async def serve_stream(
    request: Request,
    kind: str,
    start: Start,
    headers: Mapping[str, str],
) -> Response:
    params = await _params(request)
    if params is None:
        return Response(
            orjson.dumps(
                {
                    "errors": [
                        {
                            "message": "Request body is not valid JSON.",
                            "extensions": {"code": "BAD_REQUEST"},
                        }
                    ]
                }
            ),
            status_code=400,
            media_type="application/json",
        )
    return stream_response(kind, _bodies(start, params, headers))


def stream_response(kind: str, items: AsyncIterator[tuple[str, dict[str, Any]]]) -> Response:
    """("result" | "error" | "expired", body) items as Server-Sent Events (`kind` "sse") or
    an Apollo multipart body ("multipart")."""
    if kind == "sse":
        return StreamingResponse(
            _sse(items),
            media_type=SSE,
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )
    return StreamingResponse(
        _multipart(items),
        media_type=f'multipart/mixed; boundary="{BOUNDARY}"; subscriptionSpec="1.0"',
        headers={"cache-control": "no-cache"},
    )


async def _sse(items: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[bytes]:
    async for item in _with_heartbeat(items, SSE_KEEPALIVE_SECONDS):
        if item is None:
            yield b":\n\n"
            continue
        _, body = item
        yield b"event: next\ndata: " + orjson.dumps(body) + b"\n\n"
    yield b"event: complete\ndata:\n\n"


def incremental_response(payloads: AsyncIterator[dict[str, Any]]) -> Response:
    """An incremental response (@defer / @stream) as Apollo Router sends it: one part per
    payload, `multipart/mixed; deferSpec=20220824`."""
    return StreamingResponse(
        _incremental_parts(payloads),
        media_type=f'multipart/mixed;boundary="{BOUNDARY}";deferSpec=20220824',
        headers={"cache-control": "no-cache"},
    )


async def _incremental_parts(payloads: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    # each part is followed at once by the next delimiter (the closing one after the last),
    # so that a client reading up to a delimiter has the part as soon as it is sent
    head = b"content-type: application/json; charset=utf-8\r\n\r\n"
    more = f"\r\n--{BOUNDARY}\r\n".encode()
    last = f"\r\n--{BOUNDARY}--\r\n".encode()
    yield more
    has_next = True
    async for body in payloads:
        has_next = body.get("hasNext") is not False
        yield head + orjson.dumps(body) + (more if has_next else last)
    if has_next:  # ended early: say so, and close
        yield head + orjson.dumps({"hasNext": False}) + last


def _part(obj: Any) -> bytes:
    return (
        f"\r\n--{BOUNDARY}\r\ncontent-type: application/json; charset=utf-8\r\n\r\n".encode()
        + orjson.dumps(obj)
    )


async def _multipart(items: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[bytes]:
    async for item in _with_heartbeat(items, HEARTBEAT_SECONDS):
        if item is None:
            yield _part({})
            continue
        label, body = item
        if label == "result":
            yield _part({"payload": body})
        else:
            yield _part({"payload": None, "errors": body.get("errors") or []})
    yield f"\r\n--{BOUNDARY}--\r\n".encode()
