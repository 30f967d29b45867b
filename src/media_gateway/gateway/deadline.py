"""One deadline per client request, seen by every subgraph fetch made for it.

The transport sets it when a request arrives (`within`); subgraph clients ask how much of it
remains (`remaining`) so that a fetch, and any retry of it, never outlives the request that
needs it. Nested deadlines keep the earlier one. A context variable carries it, so the
concurrent fetches of one request share it and other requests never see it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("media_gateway_request_deadline", default=None)


@contextlib.contextmanager
def within(seconds: float | None) -> Iterator[None]:
    """Run the block under a deadline `seconds` from now (None: no deadline of its own)."""
    if seconds is None:
        yield
        return
    ends = time.monotonic() + seconds
    outer = _deadline.get()
    token = _deadline.set(ends if outer is None else min(outer, ends))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left before the current request's deadline (never negative), or None."""
    ends = _deadline.get()
    return None if ends is None else max(0.0, ends - time.monotonic())
