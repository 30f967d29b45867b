"""Structured JSON logging with a per-request id.

The request id comes from the ``x-request-id`` header (a new one is generated when absent),
is kept in a context variable for the duration of the request, is added to every log line
written while handling it, and is echoed back in the response headers.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "media_gateway_request_id", default=None
)
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def request_id_scope(request_id: str | None = None) -> Iterator[str]:
    value = request_id or uuid.uuid4().hex
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            payload["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key != "request_id" and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(payload, default=str).decode()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Send the root logger to stderr as JSON lines (or plain text when asked)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_media_gateway", False):
            root.removeHandler(existing)
    handler._media_gateway = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True


_request_notes: contextvars.ContextVar[dict[str, list[Any]] | None] = contextvars.ContextVar(
    "media_gateway_request_notes", default=None
)
access_log = logging.getLogger("media_gateway.access")
# probes answer often and say little: their access lines are debug lines
_QUIET_PATHS = frozenset({"/health", "/ready", "/health/subgraphs", "/metrics"})


def note_request(**fields: Any) -> bool:
    """Add to the access-log line of the current HTTP request (a field noted twice, as by the
    operations of a batch, becomes a list); False when no access line will be written (no
    HTTP request, or the access log is off), so that the caller can log on its own."""
    notes = _request_notes.get()
    if notes is None:
        return False
    for key, value in fields.items():
        notes.setdefault(key, []).append(value)
    return True


class RequestIdMiddleware:
    """ASGI middleware: binds the request id for the request, echoes it in the response, and
    writes one access-log line per HTTP request (method, path, status, duration, and what
    the handlers noted with `note_request`, such as the operation name and error codes)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", []):
            if name.decode("latin-1").lower() == REQUEST_ID_HEADER:
                incoming = value.decode("latin-1")[:128]
                break
        started = time.perf_counter()
        status: list[int] = []
        notes: dict[str, list[Any]] = {}
        # only an HTTP request has an access line to carry notes (a WebSocket's operations
        # are logged one by one)
        logged = scope["type"] == "http" and access_log.isEnabledFor(logging.INFO)
        token = _request_notes.set(notes if logged else None)
        try:
            with request_id_scope(incoming) as request_id:

                async def send_with_id(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        status.append(int(message["status"]))
                        headers = list(message.get("headers", []))
                        headers.append((REQUEST_ID_HEADER.encode(), request_id.encode("latin-1")))
                        message = {**message, "headers": headers}
                    await send(message)

                try:
                    await self.app(scope, receive, send_with_id)
                finally:
                    if scope["type"] == "http":
                        self._log(scope, status, started, notes)
        finally:
            _request_notes.reset(token)

    @staticmethod
    def _log(scope: Scope, status: list[int], started: float, notes: dict[str, list[Any]]) -> None:
        path = str(scope.get("path", ""))
        level = logging.DEBUG if path in _QUIET_PATHS else logging.INFO
        if not access_log.isEnabledFor(level):
            return
        client = scope.get("client")
        access_log.log(
            level,
            "request",
            extra={
                "method": scope.get("method"),
                "path": path,
                "status": status[0] if status else None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "client": client[0] if client else None,
                **{k: v[0] if len(v) == 1 else v for k, v in notes.items()},
            },
        )
