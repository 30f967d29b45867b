"""Path forwarding: requests for configured paths go to an upstream HTTP service unchanged,
and its answer comes back unchanged. The router knows nothing of what those paths are: an
operator lists them (``GATEWAY_FORWARD``), for example the pages and OAuth endpoints of an
authorization server that lives behind the gateway, so that every public link is under the
gateway's one address.

``GATEWAY_FORWARD`` holds whitespace-separated ``PATH=UPSTREAM`` entries; a path forwards
itself and everything below it (``/oauth`` forwards ``/oauth/token``), with the query
string. The gateway's own routes come first. The upstream learns the client's address in
``X-Forwarded-For`` (the peer, or the client a trusted proxy names) and the public host in
``X-Forwarded-Host`` and ``X-Forwarded-Proto``. An upstream that does not answer is a 502,
never a traceback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from media_gateway.platform.forwarding import TrustedProxies

log = logging.getLogger("media_gateway.gateway")

MAX_BODY_BYTES = 1024 * 1024
TIMEOUT_SECONDS = 30.0
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# hop-by-hop headers (RFC 9110 7.6.1) and those the gateway sets itself
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "forwarded",
    }
)


class ForwardingError(ValueError):
    """``GATEWAY_FORWARD`` is malformed."""


@dataclass(frozen=True)
class Forward:
    path: str
    upstream: str


def parse_forwards(text: str | None) -> tuple[Forward, ...]:
    """The entries of ``GATEWAY_FORWARD`` (see the module's text)."""
    forwards: list[Forward] = []
    for entry in (text or "").split():
        path, separator, upstream = entry.partition("=")
        parts = urlsplit(upstream)
        path = path.rstrip("/")
        if not separator or not path.startswith("/") or "//" in path or "{" in path:
            raise ForwardingError(f"GATEWAY_FORWARD: {entry!r} is not PATH=UPSTREAM")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ForwardingError(f"GATEWAY_FORWARD: {upstream!r} is not an http(s) URL")
        forwards.append(Forward(path, upstream.rstrip("/")))
    return tuple(forwards)


def forwards_from_env(env: Mapping[str, str] | None = None) -> tuple[Forward, ...]:
    return parse_forwards((os.environ if env is None else env).get("GATEWAY_FORWARD"))


def forwarding_routes(
    forwards: tuple[Forward, ...], trusted_proxies: TrustedProxies | None = None
) -> list[BaseRoute]:
    """Two routes per forwarded path: the path, and everything below it."""
    trusted = trusted_proxies or TrustedProxies()
    routes: list[BaseRoute] = []
    for forward in forwards:
        endpoint = _Forwarder(forward.upstream, trusted).forward
        routes.append(Route(forward.path, endpoint, methods=METHODS))
        routes.append(Route(forward.path + "/{rest:path}", endpoint, methods=METHODS))
    return routes


class _Forwarder:
    """Sends a request on to ``upstream`` and its answer back (redirects not followed)."""

    def __init__(self, upstream: str, trusted: TrustedProxies) -> None:
        self.upstream = upstream
        self.trusted = trusted
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
            )
        return self._client

    async def forward(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("The request is too large.", status_code=413)
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in HOP_BY_HOP
        ]
        peer = request.client.host if request.client else None
        address = self.trusted.client_address(peer, request.headers)
        if address:
            headers.append(("x-forwarded-for", address))
        headers.append(("x-forwarded-host", request.url.netloc))
        headers.append(("x-forwarded-proto", request.url.scheme))
        url = self.upstream + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        try:
            answer = await self.client.request(
                request.method, url, headers=headers, content=body or None
            )
        except httpx.HTTPError as exc:
            log.warning(
                "forwarded path: the upstream did not answer",
                extra={"upstream": self.upstream, "error": type(exc).__name__},
            )
            return PlainTextResponse(
                "The service behind this address is not answering; try again shortly.",
                status_code=502,
            )
        response = Response(answer.content, status_code=answer.status_code)
        for name, value in answer.headers.multi_items():
            lowered = name.lower()
            # the body arrives decoded: its encoding and length are the gateway's to set
            if lowered in HOP_BY_HOP or lowered == "content-encoding":
                continue
            response.headers.append(name, value)
        response.headers["content-length"] = str(len(answer.content))
        return response
