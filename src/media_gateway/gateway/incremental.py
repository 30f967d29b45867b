"""Incremental delivery: `@defer` and `@stream`, in the format Apollo Router and Apollo Client
speak (`multipart/mixed; deferSpec=20220824`).

A plan with deferred fragments has fetch groups of its own for each of them (see
`planner._PlanBuilder.plan_selection`); every group starts as soon as what it depends on has
finished. `payloads` runs the plan and yields:

- the initial payload, `{"data", "errors"?, "hasNext"}`, as soon as the fetches of the
  initial response have finished (deferred fetches may still be running);
- then `{"incremental": [...], "hasNext"}` whenever something more is complete: for each
  object a deferred fragment applies to, `{"data", "path", "label"?, "errors"?}` once the
  fragment's own fetches have finished and the payload holding that object has been sent;
  for each streamed list, `{"items", "path", "label"?}` with the items after `initialCount`
  (the path ends with the index of the first of them);
- the last payload says `"hasNext": false`.

Each increment is shaped on its own: the errors of a deferred fragment's fetches go with its
increments, and a null in a non-null field of a deferred fragment propagates up to the
fragment's object at most (the increment's `data` is null), leaving the initial response as
it is. Deferred data is read from the execution's data tree, so a deferred field that could
not be given a fetch of its own (its type has no key) simply comes with its parent's fetch
and is delivered later all the same.

Subgraphs are not asked to stream: a `@stream` list is resolved whole and its items after
`initialCount` are delivered in the payload after the one holding the list.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    GraphQLObjectType,
    GraphQLSchema,
    IntValueNode,
    StringValueNode,
    VariableNode,
)

from .executor import Execution
from .operation import CField, CSelection, Defer
from .plan import FetchBatch, Plan
from .shaping import Path, ResponseShaper
from .supergraph import Supergraph

log = logging.getLogger("media_gateway.gateway.incremental")

DEFER_SPEC = "20220824"
MULTIPART_DEFER = f"multipart/mixed; deferSpec={DEFER_SPEC}"

Body = dict[str, Any]
_INTERNAL = {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
# (response key, type conditions the object the key is read from must meet)
Step = tuple[str, tuple[str, ...]]


@dataclass(eq=False)
class _Stream:
    """A field under `@stream`: the steps from its owner's object to the list."""

    steps: tuple[Step, ...]
    directive: DirectiveNode


@dataclass(eq=False)
class _Deferred:
    """A deferred fragment: the steps from its owner's object (the root, or the object of
    the fragment it is nested in) to the object it applies to, and what it selects there."""

    defer: Defer
    steps: tuple[Step, ...]
    conditions: tuple[str, ...]
    type_name: str
    selections: list[CSelection]
    children: list[_Deferred] = field(default_factory=list)
    streams: list[_Stream] = field(default_factory=list)


@dataclass
class Delivery:
    """Where an operation defers fragments and streams lists (kept with the plan)."""

    children: list[_Deferred]
    streams: list[_Stream]
    deferred: bool
    all_streams: list[_Stream]

    def incremental(self, variables: Mapping[str, Any]) -> bool:
        """Whether a request with these variables is answered incrementally."""
        return self.deferred or any(
            _stream_arguments(s.directive, variables)[0] for s in self.all_streams
        )

    def refusal(self) -> Body:
        """The answer to a client that cannot take an incremental response (Apollo Router's:
        HTTP 406)."""
        what, code = (
            ("@defer", "DEFER_BAD_HEADER") if self.deferred else ("@stream", "STREAM_BAD_HEADER")
        )
        return {
            "errors": [
                {
                    "message": f"The operation uses {what}, but the client does not accept "
                    f"multipart/mixed responses. To receive it incrementally, send the "
                    f"header 'Accept: {MULTIPART_DEFER}' (or use SSE or WebSocket).",
                    "extensions": {"code": code},
                }
            ]
        }


def delivery(plan: Plan, sg: Supergraph) -> Delivery:
    """The plan's `Delivery` (computed once per plan)."""
    found = plan.delivery
    if isinstance(found, Delivery):
        return found
    children: list[_Deferred] = []
    streams: list[_Stream] = []
    every: list[_Stream] = []
    deferred = False

    def walk(
        sels: list[CSelection],
        type_name: str,
        steps: tuple[Step, ...],
        conditions: tuple[str, ...],
        owner_children: list[_Deferred],
        owner_streams: list[_Stream],
    ) -> None:
        nonlocal deferred
        for s in sels:
            if isinstance(s, CField):
                if s.name.startswith("__"):
                    continue
                here = (*steps, (s.response_key, conditions))
                for d in s.directives:
                    if d.name.value == "stream":
                        stream = _Stream(here, d)
                        owner_streams.append(stream)
                        every.append(stream)
                ftype = sg.field_type_name(type_name, s.name)
                if ftype is not None and s.selections:
                    walk(s.selections, ftype, here, (), owner_children, owner_streams)
                continue
            tc = s.type_condition
            inner_type = tc or type_name
            own = (*conditions, tc) if tc else conditions
            if s.defer is None:
                walk(s.selections, inner_type, steps, own, owner_children, owner_streams)
                continue
            deferred = True
            node = _Deferred(s.defer, steps, own, inner_type, s.selections)
            owner_children.append(node)
            walk(s.selections, inner_type, (), (), node.children, node.streams)

    walk(plan.selections, plan.root_type, (), (), children, streams)
    found = plan.delivery = Delivery(children, streams, deferred, every)
    return found


def _argument(directive: DirectiveNode, name: str, variables: Mapping[str, Any]) -> Any:
    for a in directive.arguments or ():
        if a.name.value != name:
            continue
        v = a.value
        if isinstance(v, VariableNode):
            return variables.get(v.name.value)
        if isinstance(v, BooleanValueNode | StringValueNode):
            return v.value
        if isinstance(v, IntValueNode):
            return int(v.value)
    return None


def _stream_arguments(
    directive: DirectiveNode, variables: Mapping[str, Any]
) -> tuple[bool, int, str | None]:
    """(streamed, initialCount, label) of a `@stream`."""
    on = _argument(directive, "if", variables)
    initial = _argument(directive, "initialCount", variables)
    label = _argument(directive, "label", variables)
    return (
        on is not False,
        max(initial, 0) if isinstance(initial, int) else 0,
        label if isinstance(label, str) else None,
    )


def _meets(sg: Supergraph, obj: Any, conditions: tuple[str, ...]) -> bool:
    tn = obj.get("__typename") if isinstance(obj, dict) else None
    if not isinstance(tn, str):
        return True
    return all(tn == c or sg.implements(tn, c) for c in conditions)


def _at(data: Any, path: Path) -> Any:
    for key in path:
        if isinstance(key, int):
            data = data[key] if isinstance(data, list) and key < len(data) else None
        else:
            data = data.get(key) if isinstance(data, dict) else None
    return data


class _Delivering:
    """The state of one incremental response."""

    def __init__(
        self,
        run: Execution,
        plan: Plan,
        schema: GraphQLSchema,
        variables: Mapping[str, Any],
    ) -> None:
        self.run = run
        self.plan = plan
        self.schema = schema
        self.sg = run.sg
        self.variables = variables
        self.info = delivery(plan, run.sg)
        # errors (each with a path) waiting for the increment of the object they are about;
        # those of objects never delivered (a null above them) are dropped, as the
        # incremental delivery specification says
        self._pool: list[dict[str, Any]] = []
        # the deferred fragments whose fetches' errors are in the pool
        self._pooled: set[Defer] = set()

    def instances(
        self, nodes: list[_Deferred], shaped: Body, base: Path
    ) -> list[tuple[_Deferred, Path]]:
        """The objects of a sent payload (`shaped`, at `base`) that deferred fragments apply
        to."""
        out: list[tuple[_Deferred, Path]] = []
        raw_base = _at(self.run.data, base)
        for node in nodes:
            found: list[tuple[Path, Any]] = []
            self._walk(shaped, raw_base, node.steps, list(base), found)
            for path, raw in found:
                if isinstance(raw, dict) and _meets(self.sg, raw, node.conditions):
                    out.append((node, path))
        return out

    def _walk(
        self, shaped: Any, raw: Any, steps: tuple[Step, ...], path: Path, out: list[Any]
    ) -> None:
        if not isinstance(shaped, dict):
            return
        if not steps:
            out.append((path, raw))
            return
        (key, conditions), rest = steps[0], steps[1:]
        if not _meets(self.sg, raw, conditions):
            return
        value = shaped.get(key)
        raw_value = raw.get(key) if isinstance(raw, dict) else None
        self._descend(value, raw_value, rest, [*path, key], out)

    def _descend(
        self, value: Any, raw: Any, rest: tuple[Step, ...], path: Path, out: list[Any]
    ) -> None:
        if isinstance(value, list):
            for i, item in enumerate(value):
                raw_item = raw[i] if isinstance(raw, list) and i < len(raw) else None
                self._descend(item, raw_item, rest, [*path, i], out)
        elif isinstance(value, dict):
            self._walk(value, raw, rest, path, out)

    def streamed(self, streams: list[_Stream], shaped: Body, base: Path) -> list[Body]:
        """Cut each streamed list of a payload's data to its `initialCount`; the rest of
        its items, as increments."""
        out: list[Body] = []
        for stream in streams:
            on, initial, label = _stream_arguments(stream.directive, self.variables)
            if not on:
                continue
            *steps, (key, conditions) = stream.steps
            parents: list[tuple[Path, Any]] = []
            self._walk(shaped, _at(self.run.data, base), tuple(steps), list(base), parents)
            for path, raw in parents:
                parent = _at(shaped, path[len(base) :])
                if not isinstance(parent, dict) or not _meets(self.sg, raw, conditions):
                    continue
                items = parent.get(key)
                if not isinstance(items, list) or len(items) <= initial:
                    continue
                parent[key] = items[:initial]
                entry: Body = {"items": items[initial:], "path": [*path, key, initial]}
                if label is not None:
                    entry["label"] = label
                out.append(entry)
        return out

    def initial(self) -> tuple[Body, list[tuple[_Deferred, Path]], list[Body]]:
        run, plan = self.run, self.plan
        shaper = ResponseShaper(self.schema, self.sg, run.errors, plan.shape_cache, plan.denied)
        data = shaper.shape_root(plan.root_type, run.data, plan.selections)
        waiting: list[tuple[_Deferred, Path]] = []
        streamed: list[Body] = []
        if data is not None:
            waiting = self.instances(self.info.children, data, [])
            # an error of the initial fetches about a deferred field (one fetched with its
            # parent) goes with the increment holding that field
            kept = []
            for e in run.errors:
                p = e.get("path")
                if (
                    isinstance(p, list)
                    and not _lands(data, p)
                    and any(p[: len(path)] == path for _node, path in waiting)
                ):
                    self._pool.append(e)
                else:
                    kept.append(e)
            run.errors[:] = kept
            streamed = self.streamed(self.info.streams, data, [])
        body: Body = {}
        if run.errors:
            body["errors"] = run.errors
        body["data"] = data
        return body, waiting, streamed

    def increment(
        self, node: _Deferred, path: Path
    ) -> tuple[Body, list[tuple[_Deferred, Path]], list[Body]]:
        """A deferred fragment's increment for the object at `path`, the fragments nested in
        it, and its streamed lists."""
        raw = _at(self.run.data, path)
        if not isinstance(raw, dict):
            raw = {}
        tn = raw.get("__typename")
        type_name = (
            tn
            if isinstance(tn, str) and isinstance(self.schema.type_map.get(tn), GraphQLObjectType)
            else node.type_name
        )
        # the errors of the fragment's fetches: those under this object, and those without a
        # path with the fragment's first increment
        errors: list[dict[str, Any]] = []
        if node.defer not in self._pooled:
            self._pooled.add(node.defer)
            for e in self.run.deferred_errors.get(node.defer, ()):
                (self._pool if isinstance(e.get("path"), list) else errors).append(e)
        n = len(path)
        candidates = [e for e in self._pool if e["path"][:n] == path]
        self._pool = [e for e in self._pool if e["path"][:n] != path]
        errors += candidates
        shaper = ResponseShaper(
            self.schema, self.sg, errors, self.plan.shape_cache, self.plan.denied
        )
        data = shaper.shape_object(type_name, raw, node.selections, path)
        children: list[tuple[_Deferred, Path]] = []
        streamed: list[Body] = []
        if data is not None:
            children = self.instances(node.children, data, path)
            # errors about the fields of fragments nested in this one wait for theirs
            unclaimed = [
                e
                for e in candidates
                if not _lands(data, e["path"][n:])
                and any(e["path"][: len(p)] == p for _child, p in children)
            ]
            if unclaimed:
                self._pool += unclaimed
                errors[:] = [e for e in errors if not any(e is u for u in unclaimed)]
            streamed = self.streamed(node.streams, data, path)
        entry: Body = {"data": data, "path": path}
        if node.defer.label is not None:
            entry["label"] = node.defer.label
        if errors:
            entry["errors"] = errors
        return entry, children, streamed


def _lands(data: Any, path: list[Any]) -> bool:
    """Whether a response path lies within shaped data (a null on the way counts: the
    error explains it)."""
    for key in path:
        if data is None:
            return True
        if isinstance(key, int):
            if not isinstance(data, list) or not 0 <= key < len(data):
                return False
            data = data[key]
        else:
            if not isinstance(data, dict) or key not in data:
                return False
            data = data[key]
    return True


async def payloads(
    run: Execution,
    plan: Plan,
    schema: GraphQLSchema,
    variables: Mapping[str, Any],
    *,
    before_initial: Callable[[], None] | None = None,
    extensions: Callable[[], dict[str, Any]] | None = None,
) -> AsyncGenerator[Body, None]:
    """Run the plan and yield its incremental payloads (see the module's docstring).
    `variables`: the coerced values (for `@stream`'s arguments); `before_initial`: called
    once the initial response's fetches have finished, before it is shaped (e.g. to answer
    introspection fields); `extensions`: the initial payload's `extensions`."""
    state = _Delivering(run, plan, schema, variables)
    pending: dict[Defer | None, int] = {}
    for b in plan.batches:
        pending[b.defer] = pending.get(b.defer, 0) + 1
    events: asyncio.Queue[FetchBatch] = asyncio.Queue()
    task = asyncio.ensure_future(run.run(events.put_nowait))

    async def next_event() -> FetchBatch:
        while True:
            if not events.empty():
                return events.get_nowait()
            if task.done():
                task.result()  # raises what stopped the fetches
                raise RuntimeError("the plan's fetches ended before reporting all of them")
            getter = asyncio.ensure_future(events.get())
            done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                return getter.result()
            getter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await getter

    def finished(b: FetchBatch) -> None:
        pending[b.defer] -= 1

    sent = False
    try:
        while pending.get(None, 0) > 0:
            finished(await next_event())
        if before_initial is not None:
            before_initial()
        body, waiting, batch = state.initial()
        body["hasNext"] = bool(waiting or batch)
        if extensions is not None:
            body["extensions"] = extensions()
        yield body
        sent = True
        while waiting or batch:
            progressed = True
            while progressed:
                progressed = False
                still: list[tuple[_Deferred, Path]] = []
                for node, path in waiting:
                    if pending.get(node.defer, 0) > 0:
                        still.append((node, path))
                        continue
                    entry, children, streamed = state.increment(node, path)
                    batch.append(entry)
                    batch += streamed
                    still += children
                    progressed = True
                waiting = still
            if batch:
                yield {"incremental": batch, "hasNext": bool(waiting)}
                batch = []
            if not waiting:
                return
            finished(await next_event())
            while not events.empty():
                finished(events.get_nowait())
    except Exception:
        # a bug ends the response with a word to the client, never a broken stream; the log
        # keeps the details
        log.exception("incremental delivery failed")
        if sent:
            yield {"hasNext": False}
        else:
            yield {"errors": [_INTERNAL], "data": None, "hasNext": False}
    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


class IncrementalStream:
    """An incremental response as a stream of payloads for the streaming transports (SSE's
    `next` events, WebSocket's `next` messages)."""

    def __init__(self, payloads: AsyncGenerator[Body, None]) -> None:
        self._payloads = payloads

    def __aiter__(self) -> AsyncIterator[Body]:
        return self._payloads

    async def aclose(self) -> None:
        await self._payloads.aclose()
