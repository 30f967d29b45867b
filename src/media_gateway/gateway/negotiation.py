"""Content negotiation for GraphQL over HTTP: the media type an `Accept` header asks for,
and the one place where a result of the request path becomes an HTTP response.

`respond` turns a `GraphQLResponse` into `application/graphql-response+json` or
`application/json` with the status codes the GraphQL-over-HTTP specification prescribes;
`respond_stream` turns an async iterator of payloads into Server-Sent Events or a
`multipart/mixed` body (see `transports_http.py`).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .router import GraphQLResponse
from .transports_http import headers_of, incremental_response, stream_response

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def media_type(request: Request) -> str | None:
    """The JSON media type the client accepts best (None: none it accepts)."""
    return _media_type(headers_of(request).get("accept", ""))


@functools.lru_cache(maxsize=256)  # clients send few distinct Accept headers
def _media_type(accept: str) -> str | None:
    if not accept.strip():
        return JSON
    best: tuple[float, str] | None = None
    for part in accept.split(","):
        bits = [b.strip() for b in part.split(";")]
        mt = bits[0].lower()
        q = 1.0
        for b in bits[1:]:
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        if mt == GRAPHQL_RESPONSE:
            cand = GRAPHQL_RESPONSE
        elif mt in (JSON, "application/*", "*/*"):
            cand = JSON if mt == JSON else GRAPHQL_RESPONSE if mt != "*/*" else JSON
        else:
            continue
        if q > 0 and (best is None or q > best[0]):
            best = (q, cand)
    return best[1] if best else None


def accepts_incremental(request: Request) -> bool:
    """Whether the client takes `multipart/mixed` responses (@defer / @stream; the format
    is `deferSpec=20220824`)."""
    return "multipart/mixed" in headers_of(request).get("accept", "").lower()


def json_response(
    body: Any, status: int = 200, media: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media, headers=headers)


def bad_request(message: str, media: str, status: int = 400) -> Response:
    return json_response(
        {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, status, media
    )


def status_of(result: GraphQLResponse, media: str) -> int:
    if result.status is not None:
        return result.status
    if media == GRAPHQL_RESPONSE and result.request_error:
        if "METHOD_NOT_ALLOWED" in _codes(result):
            return 405
        return 400
    return 200


def _codes(result: GraphQLResponse) -> set[Any]:
    return {(e.get("extensions") or {}).get("code") for e in result.body.get("errors", [])}


def respond(result: GraphQLResponse, media: str, *, get: bool = False) -> Response:
    """One result as an HTTP response (`get`: the request was a GET, whose refused
    mutation answers 405 with `allow: POST`); an incremental one as `multipart/mixed`."""
    if result.payloads is not None:
        return incremental_response(result.payloads)
    if get and "METHOD_NOT_ALLOWED" in _codes(result):
        return json_response(result.body, 405, media, headers={"allow": "POST"})
    return json_response(result.body, status_of(result, media), media, result.headers or None)


def respond_batch(results: list[GraphQLResponse], media: str) -> Response:
    """A batch's results, in the order of its operations."""
    return json_response([r.body for r in results], 200, media)


def respond_stream(kind: str, payloads: AsyncIterator[tuple[str, dict[str, Any]]]) -> Response:
    """A stream of ("result" | "error" | "expired", body) payloads as `kind` ("sse" or
    "multipart")."""
    return stream_response(kind, payloads)
