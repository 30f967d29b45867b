"""Subscriptions through the router, for any subgraph that defines Subscription fields.

A subscription is prepared like any operation (`pipeline.Pipeline.prepare`): the root field
goes to the subgraph that owns it, the rest of the selection becomes entity fetches. The
router subscribes to the owning subgraph (see ``upstream.py``) and, for each event the
subgraph sends, treats the event as the root data and runs the entity fetches of the plan
(`execution.execute_plan`), then shapes the client's response.

Identical client subscriptions (same document, operation name, variables and credentials)
share one upstream subscription and one resolution of each event. A stream ends with
``TokenExpired`` when the caller's access token expires (its ``exp`` claim), so transports
can close it with a clear reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from .execution import execute_plan
from .plan import Plan
from .upstream import upstream_events

if TYPE_CHECKING:
    from .request import PreparedOperation
    from .router import Router

log = logging.getLogger("media_gateway.gateway.subscriptions")

Body = dict[str, Any]
_END = object()
LISTENER_QUEUE = 256


class TokenExpired(Exception):
    """The access token the subscription was opened with has expired."""


@dataclass
class Answer:
    """One result for an operation sent over a streaming transport: a query's or mutation's
    response, or a request error (refused before execution: ``error`` is true)."""

    body: Body
    error: bool = False


# what a transport calls for each operation it receives: (request params, headers) -> an
# open subscription or one answer; raises TokenExpired when the token has already expired
Start = Callable[[Mapping[str, Any], Mapping[str, str]], Awaitable["PayloadStream | Answer"]]


class PayloadStream(Protocol):
    """Payloads a transport sends one by one: a subscription's events (`ClientStream`) or
    an incremental response (`incremental.IncrementalStream`)."""

    def __aiter__(self) -> AsyncIterator[Body]: ...

    async def aclose(self) -> None: ...


def error_body(message: str, code: str) -> Body:
    """A GraphQL response body carrying one error with ``extensions.code``."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def token_expiry(headers: Mapping[str, str]) -> float | None:
    """The ``exp`` claim of the bearer token (not verified here: subgraphs verify it)."""
    value = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, int | float) else None


def headers_from_init(payload: Any) -> dict[str, str]:
    """Credentials from a WebSocket ``connection_init`` payload, as HTTP headers."""
    if not isinstance(payload, dict):
        return {}
    source: dict[str, Any] = dict(payload)
    nested = payload.get("headers")
    if isinstance(nested, dict):
        source.update(nested)
    headers: dict[str, str] = {}
    for key, value in source.items():
        if not isinstance(value, str):
            continue
        lower = key.lower()
        if lower == "authorization":
            headers["authorization"] = value
        elif lower in ("token", "accesstoken", "access_token", "authtoken") and value:
            headers["authorization"] = value if " " in value else f"Bearer {value}"
        elif lower in ("x-request-id", "accept-language", "traceparent"):
            headers[lower] = value
    return headers


@dataclass
class Prepared:
    """A validated, planned subscription."""

    plan: Plan
    entity_plan: Plan
    subgraph: str
    document: str
    variables: dict[str, Any]
    root_variables: dict[str, Any]
    restore_aliases: Callable[[Any], None] | None


def _without(plan: Plan, root_ids: set[int]) -> Plan:
    """The plan minus its root fetch (its data comes from the subscription's events)."""
    out = copy.copy(plan)
    groups = []
    for g in plan.groups:
        if g.id in root_ids:
            continue
        g2 = copy.copy(g)
        g2.deps = set(g.deps) - root_ids
        groups.append(g2)
    out.groups = groups
    batches = getattr(plan, "batches", None)
    if batches is not None:
        root_batches = {b.id for b in batches if any(m.id in root_ids for m in b.members)}
        kept = []
        for b in batches:
            if b.id in root_batches:
                continue
            b2 = copy.copy(b)
            b2.deps = set(b.deps) - root_batches
            kept.append(b2)
        out.batches = kept
    return out


def subscription_of(prepared: PreparedOperation) -> Prepared | Body:
    """The subscription a prepared operation opens, or the error body refusing it.

    The router's @authenticated / @requiresScopes check applied when it was prepared: a
    subscription field the caller may not see refuses the subscription; other fields are
    answered null with their error in every event."""
    plan = prepared.plan
    for (parent, name), code in plan.denied.items():
        if parent == plan.root_type:
            verb = "Sign in" if code == "UNAUTHENTICATED" else "You need more permissions"
            return error_body(f"{verb} to subscribe to '{name}'.", code)
    roots = [g for g in plan.groups if not g.entity]
    if len(roots) != 1:
        return error_body(
            "A subscription must select exactly one field of one subgraph.", "BAD_REQUEST"
        )
    root = roots[0]
    raw = prepared.variables
    return Prepared(
        plan=plan,
        entity_plan=_without(plan, {root.id}),
        subgraph=root.subgraph,
        document=root.document,
        variables=raw,
        root_variables={v: raw[v] for v in root.variable_names if v in raw},
        restore_aliases=root.selection.restore_aliases if root.has_aliases else None,
    )


def _upstream_error(e: Any, subgraph: str) -> dict[str, Any]:
    if not isinstance(e, dict):
        return {"message": str(e), "extensions": {"code": "SUBGRAPH_ERROR"}}
    out: dict[str, Any] = {"message": e.get("message", "Subgraph error")}
    if isinstance(e.get("path"), list):
        out["path"] = e["path"]
    ext = dict(e.get("extensions") or {})
    ext.setdefault("code", "DOWNSTREAM_SERVICE_ERROR")
    ext["serviceName"] = subgraph
    out["extensions"] = ext
    return out


async def resolve_event(
    router: Router, prepared: Prepared, event: Mapping[str, Any], headers: Mapping[str, str]
) -> Body:
    """One event of the owning subgraph -> the client's payload (with entity fields)."""
    errors = [_upstream_error(e, prepared.subgraph) for e in event.get("errors") or ()]
    data = event.get("data")
    if not isinstance(data, dict):
        return {"data": None, "errors": errors} if errors else {"data": None}
    if prepared.restore_aliases is not None:
        prepared.restore_aliases(data)
    return await execute_plan(
        router,
        prepared.entity_plan,
        prepared.variables,
        headers,
        data=data,
        errors=errors,
        shape=prepared.plan,
    )


class _Shared:
    """One upstream subscription and its listeners."""

    def __init__(self, hub: SubscriptionHub, key: tuple[Any, ...]) -> None:
        self.hub = hub
        self.key = key
        self.listeners: set[asyncio.Queue[Any]] = set()
        self.task: asyncio.Task[None] | None = None

    def start(self, router: Router, prepared: Prepared, headers: Mapping[str, str]) -> None:
        self.task = asyncio.create_task(self._run(router, prepared, dict(headers)))

    def _broadcast(self, item: Any) -> None:
        for queue in list(self.listeners):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                # a listener that does not read loses its oldest payload, never blocks others
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                queue.put_nowait(item)

    async def _run(self, router: Router, prepared: Prepared, headers: dict[str, str]) -> None:
        client = router.clients.get(prepared.subgraph)
        try:
            if client is None:
                self._broadcast(
                    error_body(
                        f"No client for subgraph '{prepared.subgraph}'.", "SUBGRAPH_FETCH_FAILED"
                    )
                )
                return
            async for event in upstream_events(
                client, prepared.document, prepared.root_variables, headers
            ):
                self._broadcast(await resolve_event(router, prepared, event, headers))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("upstream subscription failed: %s", exc)
            self._broadcast(
                {
                    "errors": [
                        {
                            "message": f"Subgraph '{prepared.subgraph}' subscription failed.",
                            "extensions": {
                                "code": "SUBGRAPH_FETCH_FAILED",
                                "serviceName": prepared.subgraph,
                            },
                        }
                    ]
                }
            )
        finally:
            self.hub._forget(self)
            self._broadcast(_END)

    async def detach(self, queue: asyncio.Queue[Any]) -> None:
        self.listeners.discard(queue)
        if not self.listeners and self.task is not None:
            self.hub._forget(self)
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task


@dataclass
class ClientStream:
    """One client's view of a (possibly shared) subscription: payload bodies, in order."""

    shared: _Shared
    queue: asyncio.Queue[Any]
    expires_at: float | None
    closed: bool = field(default=False)

    def __aiter__(self) -> AsyncIterator[Body]:
        return self

    async def __anext__(self) -> Body:
        if self.closed:
            raise StopAsyncIteration
        timeout = None
        if self.expires_at is not None:
            timeout = self.expires_at - time.time()
            if timeout <= 0:
                await self.aclose()
                raise TokenExpired
        try:
            item = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            await self.aclose()
            raise TokenExpired from None
        if item is _END:
            self.closed = True
            self.shared.hub.stream_closed()
            raise StopAsyncIteration
        body: Body = item
        return body

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.shared.hub.stream_closed()
            await self.shared.detach(self.queue)


class SubscriptionObserver(Protocol):
    """Told when client subscriptions open and close (e.g. a metrics gauge)."""

    def subscription_opened(self) -> None: ...

    def subscription_closed(self) -> None: ...


class SubscriptionHub:
    """Opens prepared client subscriptions, sharing identical upstreams."""

    def __init__(
        self,
        router: Callable[[], Router | None],
        observer: SubscriptionObserver | None = None,
    ) -> None:
        self._router = router
        self._shared: dict[tuple[Any, ...], _Shared] = {}
        self.observer = observer
        self.active = 0  # client subscriptions open now

    def stream_closed(self) -> None:
        self.active -= 1
        if self.observer is not None:
            self.observer.subscription_closed()

    @property
    def upstream_count(self) -> int:
        return len(self._shared)

    def router(self) -> Router | None:
        return self._router()

    def _forget(self, shared: _Shared) -> None:
        if self._shared.get(shared.key) is shared:
            del self._shared[shared.key]

    async def open(
        self, operation: PreparedOperation, expires_at: float | None = None
    ) -> ClientStream | Body:
        """A stream of payloads of a prepared subscription, or the error body when it
        cannot start. `expires_at`: when the caller's access token expires."""
        prepared = subscription_of(operation)
        if not isinstance(prepared, Prepared):
            return prepared
        router = operation.router
        headers = operation.request.forwarded
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        key = (
            id(router),
            prepared.subgraph,
            operation.query,
            operation.operation_name,
            orjson.dumps(prepared.variables, option=orjson.OPT_SORT_KEYS),
            auth,
        )
        queue: asyncio.Queue[Any] = asyncio.Queue(LISTENER_QUEUE)
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = _Shared(self, key)
            shared.listeners.add(queue)
            shared.start(router, prepared, headers)
        else:
            shared.listeners.add(queue)
        self.active += 1
        if self.observer is not None:
            self.observer.subscription_opened()
        return ClientStream(shared, queue, expires_at)

    async def close(self) -> None:
        for shared in list(self._shared.values()):
            if shared.task is not None:
                shared.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await shared.task
        self._shared.clear()
