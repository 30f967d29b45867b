"""Plan execution: run fetch groups and merge their results.

Groups run as soon as the groups they depend on have finished. Entity groups collect the
objects at their path, build deduplicated representations, and merge each `_entities`
result back into every object that asked. The response is then shaped from the client's own
selection by `shaping.ResponseShaper`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from graphql import GraphQLObjectType

from .clients import SubgraphClient, SubgraphFetchError, SubgraphRequest
from .operation import Defer
from .plan import FetchBatch, FetchGroup, Plan, SelSet
from .shaping import Owned, OwnedList, Path, ResponseShaper, representations, unaliased
from .supergraph import Supergraph

__all__ = ["Execution", "ResponseShaper", "deep_merge"]

_MISSING = object()
_CONTAINERS = (dict, list)
_TYPENAME_ONLY = frozenset({"__typename"})


def deep_merge(dst: dict[str, Any], src: Mapping[str, Any], sg: Supergraph) -> bool:
    """Merge a subgraph result's object into an object of the execution's own tree. `src`
    is left as it is (it may be shared with other requests); objects of `dst` that the merge
    goes into are made the execution's own first. True when an object or a list was put
    where there was none or another (the objects found along a path may have changed)."""
    changed = False
    for k, v in src.items():
        cur = dst.get(k, _MISSING)
        if cur is _MISSING:
            dst[k] = v
            if not changed and isinstance(v, _CONTAINERS):
                changed = True
        elif k == "__typename":
            # an interface-object subgraph answers with the interface's name: keep the
            # concrete type learned elsewhere
            if v != cur and (
                isinstance(sg.schema.type_map.get(v), GraphQLObjectType)
                or not isinstance(sg.schema.type_map.get(cur), GraphQLObjectType)
            ):
                dst[k] = v
        elif isinstance(cur, dict) and isinstance(v, dict):
            if type(cur) is not Owned:
                cur = dst[k] = Owned(cur)
            if deep_merge(cur, v, sg):
                changed = True
        elif isinstance(cur, list) and isinstance(v, list) and len(cur) == len(v):
            if type(cur) is not OwnedList:
                cur = dst[k] = OwnedList(cur)
            for i, (a, b) in enumerate(zip(cur, v, strict=True)):
                if isinstance(a, dict) and isinstance(b, dict):
                    if type(a) is not Owned:
                        a = cur[i] = Owned(a)
                    if deep_merge(a, b, sg):
                        changed = True
                else:
                    if isinstance(a, _CONTAINERS) or isinstance(b, _CONTAINERS):
                        changed = True
                    cur[i] = b
        else:
            if isinstance(cur, _CONTAINERS) or isinstance(v, _CONTAINERS):
                changed = True
            dst[k] = v
    return changed


def _flatten_paths(v: Any, p: Path, out: list[tuple[Any, Path]]) -> None:
    if isinstance(v, list):
        for i, item in enumerate(v):
            if item is not None:
                _flatten_paths(item, [*p, i], out)
    else:
        out.append((v, p))


def _response_keys(sel: SelSet, type_name: str | None, sg: Supergraph) -> list[str]:
    """The client's response keys of a subgraph selection's fields (for an object of
    `type_name`, or of any type when it is unknown), `__typename` left out."""
    keys: list[str] = []
    for key, f in sel.fields.items():
        k = f.original_key or key
        if k != "__typename" and k not in keys:
            keys.append(k)
    for tc, frag in sel.fragments.items():
        if type_name is None or type_name == tc or sg.implements(type_name, tc):
            for k in _response_keys(frag, type_name, sg):
                if k not in keys:
                    keys.append(k)
    return keys


class Execution:
    """One execution of a plan."""

    def __init__(
        self,
        plan: Plan,
        supergraph: Supergraph,
        clients: Mapping[str, SubgraphClient],
        variables: Mapping[str, Any],
        headers: Mapping[str, str],
    ) -> None:
        self.plan = plan
        self.sg = supergraph
        self.clients = clients
        self.variables = variables
        self.headers = headers
        # the execution's own tree: subgraph results' objects are copied into it only where
        # a later fetch merges (see shaping.Owned); results are never changed
        self.data: dict[str, Any] = Owned()
        # the objects found along each path so far (shaping.collect), until a merge puts an
        # object or a list somewhere new
        self._collected: dict[Any, list[dict[str, Any]]] = {}
        self.errors: list[dict[str, Any]] = []
        # the errors of each deferred fragment's fetches (they go with its increment)
        self.deferred_errors: dict[Defer, list[dict[str, Any]]] = {}
        self.fetch_count = 0
        self.representation_count = 0

    async def run(self, finished: Callable[[FetchBatch], None] | None = None) -> None:
        """Run every fetch; `finished` is told of each as it completes (incremental
        delivery sends what is complete without waiting for the rest)."""
        if type(self.data) is not Owned:  # root data given by the caller stays unchanged
            self.data = Owned(self.data)
        batches = self.plan.batches
        if not batches:
            return
        if len(batches) == 1 and finished is None:
            await self._run_batch(batches[0])
            return
        done: dict[int, asyncio.Event] = {b.id: asyncio.Event() for b in batches}

        async def run_one(b: FetchBatch) -> None:
            try:
                for d in b.deps:
                    await done[d].wait()
                await self._run_batch(b)
            finally:
                done[b.id].set()
                if finished is not None:
                    finished(b)

        await asyncio.gather(*(run_one(b) for b in batches))

    def _errors_of(self, b: FetchBatch) -> list[dict[str, Any]]:
        if b.defer is None:
            return self.errors
        return self.deferred_errors.setdefault(b.defer, [])

    def _variables_for(self, names: tuple[str, ...]) -> dict[str, Any]:
        return {v: self.variables[v] for v in names if v in self.variables}

    async def _send(
        self,
        b: FetchBatch,
        variables: dict[str, Any],
        prepared: list[tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]] | None = None,
    ) -> dict[str, Any] | None:
        client = self.clients.get(b.subgraph)
        self.fetch_count += 1
        if client is None:
            self._error(
                f"No client configured for subgraph '{b.subgraph}'.",
                b,
                "SUBGRAPH_FETCH_FAILED",
                prepared,
            )
            return None
        try:
            return await client.fetch(SubgraphRequest(b.document, variables, None, self.headers))
        except SubgraphFetchError as exc:
            self._error(f"Subgraph '{b.subgraph}' {exc}.", b, exc.code, prepared)
        except Exception as exc:  # a client bug must not fail the whole request
            self._error(
                f"Subgraph '{b.subgraph}' failed: {exc.__class__.__name__}.",
                b,
                "SUBGRAPH_FETCH_FAILED",
                prepared,
            )
        return None

    def _error(
        self,
        message: str,
        b: FetchBatch,
        code: str,
        prepared: list[tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]] | None,
    ) -> None:
        """Errors of a fetch that returned nothing: one for each response path it leaves
        null, as a field error does (the GraphQL spec's `path`), or one without a path when
        no such path is known."""
        extensions = {"code": code, "serviceName": b.subgraph}
        paths = self._failed_paths(b, prepared)
        if not paths:
            self._errors_of(b).append({"message": message, "extensions": extensions})
            return
        for path in paths:
            self._errors_of(b).append(
                {"message": message, "path": path, "extensions": dict(extensions)}
            )

    def _failed_paths(
        self,
        b: FetchBatch,
        prepared: list[tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]] | None,
    ) -> list[Path]:
        """Response paths a failed fetch leaves null: for a root fetch the key of every root
        field it was to resolve; for an entity fetch the path of every object it was to
        complete, followed by the field's key when it was to add a single field there."""
        if not b.entity:
            return [[k] for k in _response_keys(b.members[0].selection, None, self.sg)]
        out: list[Path] = []
        seen: set[tuple[str | int, ...]] = set()
        for g, (_reps, targets) in zip(b.members, prepared or (), strict=False):
            paths = self._paths(g)
            for objs in targets:
                for obj in objs:
                    base = paths.get(id(obj))
                    if base is None:
                        continue
                    tn = obj.get("__typename")
                    keys = _response_keys(g.selection, tn if isinstance(tn, str) else None, self.sg)
                    path = [*base, keys[0]] if len(keys) == 1 else list(base)
                    ident = tuple(path)
                    if ident not in seen:
                        seen.add(ident)
                        out.append(path)
        return out

    async def _run_batch(self, b: FetchBatch) -> None:
        if not b.entity:
            g = b.members[0]
            result = await self._send(b, self._variables_for(b.variable_names))
            if result is None:
                return
            data = result.get("data")
            if isinstance(data, dict):
                if g.has_aliases:
                    data = unaliased(g.selection, data)
                if deep_merge(self.data, data, self.sg):
                    self._collected.clear()
            for e in result.get("errors") or ():
                self._errors_of(b).append(self._subgraph_error(e, g, None, None))
            return
        cache = self.plan.shape_cache
        collected = self._collected
        prepared = [representations(self.sg, self.data, g, cache, collected) for g in b.members]
        if not any(reps for reps, _t in prepared):
            return
        variables = self._variables_for(b.variable_names)
        for var, (reps, _t) in zip(b.rep_variables, prepared, strict=True):
            variables[var] = reps
            self.representation_count += len(reps)
        result = await self._send(b, variables, prepared)
        if result is None:
            return
        data = result.get("data")
        for g, alias, (reps, targets) in zip(b.members, b.aliases, prepared, strict=True):
            entities = data.get(alias) if isinstance(data, dict) else None
            if not isinstance(entities, list):
                continue
            if g.has_aliases:
                entities = unaliased(g.selection, entities)
            for i, ent in enumerate(entities[: len(reps)]):
                if not isinstance(ent, dict):
                    continue
                keys = ent.keys()
                nested: bool | None = None
                for obj in targets[i]:
                    common = obj.keys() & keys
                    if not common or (
                        common == _TYPENAME_ONLY and obj["__typename"] == ent["__typename"]
                    ):
                        # nothing to merge into: the usual case, done in one step
                        obj.update(ent)
                        if nested is None:
                            nested = any(isinstance(v, _CONTAINERS) for v in ent.values())
                        if nested:
                            self._collected.clear()
                    elif deep_merge(obj, ent, self.sg):
                        self._collected.clear()
        for e in result.get("errors") or ():
            path = e.get("path") if isinstance(e, dict) else None
            member = 0
            if isinstance(path, list) and path and path[0] in b.aliases:
                member = b.aliases.index(path[0])
            g = b.members[member]
            self._errors_of(b).append(
                self._subgraph_error(e, g, prepared[member][1], b.aliases[member])
            )

    def _paths(self, g: FetchGroup) -> dict[int, Path]:
        """Response path of every object at the group's path (only needed for errors)."""
        current: list[tuple[Any, Path]] = [(self.data, [])]
        for key, cond in g.path:
            nxt: list[tuple[Any, Path]] = []
            for obj, p in current:
                if not isinstance(obj, dict):
                    continue
                if cond is not None:
                    tn = obj.get("__typename")
                    if tn is not None and not self.sg.implements(tn, cond):
                        continue
                v = obj.get(key)
                if v is not None:
                    _flatten_paths(v, [*p, key], nxt)
            current = nxt
        return {id(o): p for o, p in current}

    def _subgraph_error(
        self,
        e: Any,
        g: FetchGroup,
        targets: list[list[dict[str, Any]]] | None,
        alias: str | None,
    ) -> dict[str, Any]:
        if not isinstance(e, dict):
            return {
                "message": str(e),
                "extensions": {"code": "SUBGRAPH_ERROR", "serviceName": g.subgraph},
            }
        out: dict[str, Any] = {"message": e.get("message", "Subgraph error")}
        path = e.get("path")
        if isinstance(path, list):
            if targets is not None:
                if len(path) >= 2 and path[0] == alias and isinstance(path[1], int):
                    i = path[1]
                    if 0 <= i < len(targets) and targets[i]:
                        base = self._paths(g).get(id(targets[i][0]))
                        if base is not None:
                            out["path"] = [*base, *path[2:]]
            else:
                out["path"] = path
        ext = dict(e.get("extensions") or {})
        ext.setdefault("code", "DOWNSTREAM_SERVICE_ERROR")
        ext["serviceName"] = g.subgraph
        out["extensions"] = ext
        return out
