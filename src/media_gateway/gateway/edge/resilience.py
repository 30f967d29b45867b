"""Resilience toward subgraphs, as `SubgraphClient` wrappers.

`EdgeClient` wraps any client (HTTP or in-process) and, per fetch: applies the header
propagation rules, opens a span, consults the subgraph's circuit breaker, joins an
identical in-flight fetch when there is one, and retries idempotent fetches (queries) with
jittered exponential backoff. Each attempt runs under the subgraph's timeout or what remains
of the client request's deadline (`gateway.deadline`), whichever ends first, and a retry
happens only while the deadline leaves time for it; a timed-out attempt counts against the
breaker at once. Mutations are never retried nor shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from .. import deadline
from ..clients import SubgraphClient, SubgraphFetchError, SubgraphRequest

BreakerState = Literal["closed", "open", "half_open"]
# an in-flight fetch: its serialised request and the headers that can change its answer
_FetchKey = tuple[bytes, tuple[tuple[str, str], ...]]

# headers that carry tracing or identification only: they do not change a fetch's result
_VOLATILE_HEADERS = frozenset({"traceparent", "tracestate", "x-request-id"})


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `reset_seconds` lets one trial
    fetch through (half open): its success closes the breaker, its failure reopens it."""

    def __init__(
        self,
        name: str,
        threshold: int = 5,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, BreakerState], None] | None = None,
    ) -> None:
        self.name = name
        self.threshold = max(1, threshold)
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.on_change = on_change
        self.failures = 0
        self.opened_at: float | None = None
        self._state: BreakerState = "closed"
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if (
            self._state == "open"
            and self.opened_at is not None
            and self.clock() - self.opened_at >= self.reset_seconds
        ):
            self._set("half_open")
        return self._state

    def _set(self, state: BreakerState) -> None:
        if state != self._state:
            self._state = state
            if self.on_change is not None:
                self.on_change(self.name, state)

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def release(self) -> None:
        self._trial_running = False

    def success(self) -> None:
        self._trial_running = False
        self.failures = 0
        self.opened_at = None
        self._set("closed")

    def failure(self) -> None:
        """A fetch failed, or one of its attempts timed out (counted as it happens)."""
        self._trial_running = False
        self.failures += 1
        if self._state == "half_open" or self.failures >= self.threshold:
            self.opened_at = self.clock()
            self._set("open")

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "consecutiveFailures": self.failures}


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 2
    base_seconds: float = 0.05
    max_seconds: float = 1.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform delay up to the exponential ceiling."""
        return random.uniform(0, min(self.max_seconds, self.base_seconds * (2**attempt)))


class HeaderRules:
    """Which client headers reach which subgraph: `{subgraph or "*": (header, ...)}`.

    Without rules every forwarded header reaches every subgraph. Tracing headers are
    always propagated.
    """

    def __init__(self, rules: Mapping[str, tuple[str, ...]]) -> None:
        self.rules = {k: frozenset(h.lower() for h in v) for k, v in rules.items()}

    def all_names(self) -> frozenset[str]:
        return frozenset().union(*self.rules.values()) if self.rules else frozenset()

    def for_subgraph(self, subgraph: str, headers: Mapping[str, str]) -> dict[str, str]:
        allowed = self.rules.get(subgraph, self.rules.get("*"))
        if allowed is None:
            return dict(headers)
        return {k: v for k, v in headers.items() if k.lower() in allowed or k in _VOLATILE_HEADERS}


class FetchObserver(Protocol):
    def fetch_span(
        self, subgraph: str, headers: dict[str, str]
    ) -> contextlib.AbstractContextManager[Any]: ...

    def fetch_done(self, subgraph: str, seconds: float, outcome: str) -> None: ...


_NO_SPAN = contextlib.nullcontext(None)


def _judged(error: SubgraphFetchError) -> SubgraphFetchError:
    """Mark an error the circuit breaker has already taken into account."""
    error.judged = True  # type: ignore[attr-defined]
    return error


def is_idempotent(query: str) -> bool:
    head = query.lstrip()
    return head.startswith("{") or head.startswith("query")


class EdgeClient:
    def __init__(
        self,
        name: str,
        inner: SubgraphClient,
        *,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        timeout: float | None = None,
        headers: HeaderRules | None = None,
        dedup: bool = True,
        observer: FetchObserver | None = None,
    ) -> None:
        self.name = name
        self.inner = inner
        self.breaker = breaker
        self.retry = retry
        self.timeout = timeout
        self.headers = headers
        self.dedup = dedup
        self.observer = observer
        self.inflight: dict[_FetchKey, asyncio.Future[dict[str, Any]]] = {}
        self.shared_fetches = 0

    async def fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        headers = dict(request.headers)
        if self.headers is not None:
            headers = self.headers.for_subgraph(self.name, headers)
        observer = self.observer
        started = time.perf_counter()
        outcome = "error"
        with observer.fetch_span(self.name, headers) if observer is not None else _NO_SPAN as span:
            request = SubgraphRequest(
                request.query, request.variables, request.operation_name, headers, request.body
            )
            try:
                result = await self._fetch(request)
                outcome = "errors" if result.get("errors") else "ok"
                return result
            except SubgraphFetchError as exc:
                outcome = exc.code.lower()
                if span is not None:
                    with contextlib.suppress(Exception):
                        span.set_attribute("error.type", exc.code)
                raise
            finally:
                if observer is not None:
                    observer.fetch_done(self.name, time.perf_counter() - started, outcome)

    async def _fetch(self, request: SubgraphRequest) -> dict[str, Any]:
        if not self.breaker.allow():
            raise SubgraphFetchError(
                "is unavailable (circuit breaker open)", "SUBGRAPH_CIRCUIT_OPEN"
            )
        idempotent = is_idempotent(request.query)
        try:
            if self.dedup and idempotent:
                result = await self._shared(request)
            else:
                result = await self._attempts(request, idempotent)
        except SubgraphFetchError as exc:
            if getattr(exc, "judged", False):  # counted (or not) where it happened
                self.breaker.release()
            else:
                self.breaker.failure()
            raise
        except Exception:
            self.breaker.failure()
            raise
        except BaseException:  # cancelled: the trial (if this was one) did not conclude
            self.breaker.release()
            raise
        self.breaker.success()
        return result

    async def _shared(self, request: SubgraphRequest) -> dict[str, Any]:
        # the serialised request (the HTTP client sends these same bytes) and the headers
        # that can change the answer: the dict hashes the bytes and compares them on a match
        key: _FetchKey = (
            request.payload(),
            tuple(sorted((k, v) for k, v in request.headers.items() if k not in _VOLATILE_HEADERS)),
        )
        leader = self.inflight.get(key)
        if leader is not None:
            self.shared_fetches += 1
            # the leader's result as it is: the executor never changes a subgraph result
            # (it copies an object only where it merges into it: shaping.Owned)
            return await asyncio.shield(leader)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.inflight[key] = future
        try:
            result = await self._attempts(request, True)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: followers re-raise it, nobody else must
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self.inflight.pop(key, None)

    async def _attempts(self, request: SubgraphRequest, idempotent: bool) -> dict[str, Any]:
        """Try once, and retry an idempotent fetch while the client's request has time left:
        every attempt and every pause between attempts fits in what remains of its deadline."""
        attempts = 1 + (self.retry.retries if idempotent else 0)
        for attempt in range(attempts):
            try:
                return await self._once(request)
            except SubgraphFetchError:
                if attempt + 1 >= attempts:
                    raise
                pause = self.retry.backoff(attempt)
                left = deadline.remaining()
                if left is not None and left <= pause:
                    raise
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, request: SubgraphRequest) -> dict[str, Any]:
        timeout, why = self.timeout, "the subgraph's timeout"
        left = deadline.remaining()
        if left is not None and (timeout is None or left < timeout):
            timeout, why = left, "the request's deadline"
        if timeout is not None and timeout <= 0:
            raise _judged(
                SubgraphFetchError(
                    "was not asked: the request's deadline had passed", "SUBGRAPH_TIMEOUT"
                )
            )
        try:
            if timeout is None:
                return await self.inner.fetch(request)
            async with asyncio.timeout(timeout):  # no task of its own, unlike wait_for
                return await self.inner.fetch(request)
        except TimeoutError as exc:
            error = SubgraphFetchError(
                f"timed out after {timeout:.3g}s ({why})", "SUBGRAPH_TIMEOUT"
            )
            self._timed_out(error)
            raise error from exc
        except SubgraphFetchError as exc:
            if exc.code == "SUBGRAPH_TIMEOUT":
                self._timed_out(exc)
            raise

    def _timed_out(self, error: SubgraphFetchError) -> None:
        """A timed-out attempt counts against the breaker at once, not only when its retries
        are spent, so that a hung subgraph is cut off after a few requests."""
        self.breaker.failure()
        _judged(error)

    async def aclose(self) -> None:
        await self.inner.aclose()
