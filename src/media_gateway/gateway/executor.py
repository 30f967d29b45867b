"""Plan execution: run fetch groups, merge their results, shape the client's response.

Groups run as soon as the groups they depend on have finished. Entity groups collect the
objects at their path, build deduplicated representations, and merge each `_entities`
result back into every object that asked. The response is then shaped from the client's own
selection (aliases, fragments, `__typename`), which drops every field the planner added, and
GraphQL null propagation applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
)

from .clients import SubgraphClient, SubgraphFetchError, SubgraphRequest
from .operation import CField, CSelection
from .plan import FetchBatch, FetchGroup, Plan, SelSet
from .supergraph import Supergraph

_MISSING = object()
_INVALID = object()

Path = list[str | int]
# a response path built only when an error needs it: (parent, key) pairs, None at the root
LazyPath = tuple[Any, str | int] | None

# how the shaper treats a selected field
_SCALAR, _SCALAR_NONNULL, _TYPENAME, _OTHER, _RAW, _UNKNOWN, _DENIED = range(7)


def _materialize(path: LazyPath) -> Path:
    out: Path = []
    while path is not None:
        path, key = path
        out.append(key)
    out.reverse()
    return out


def deep_merge(dst: dict[str, Any], src: Mapping[str, Any], sg: Supergraph) -> None:
    for k, v in src.items():
        cur = dst.get(k, _MISSING)
        if cur is _MISSING:
            dst[k] = v
        elif k == "__typename":
            # an interface-object subgraph answers with the interface's name: keep the
            # concrete type learned elsewhere
            if isinstance(sg.schema.type_map.get(v), GraphQLObjectType) or not isinstance(
                sg.schema.type_map.get(cur), GraphQLObjectType
            ):
                dst[k] = v
        elif isinstance(cur, dict) and isinstance(v, dict):
            deep_merge(cur, v, sg)
        elif isinstance(cur, list) and isinstance(v, list) and len(cur) == len(v):
            for i, (a, b) in enumerate(zip(cur, v, strict=True)):
                if isinstance(a, dict) and isinstance(b, dict):
                    deep_merge(a, b, sg)
                else:
                    cur[i] = b
        else:
            dst[k] = v


class _Missing(Exception):
    pass


def _flatten_objects(v: list[Any], out: list[Any]) -> None:
    for item in v:
        if isinstance(item, dict):
            out.append(item)
        elif isinstance(item, list):
            _flatten_objects(item, out)


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
        self.data: dict[str, Any] = {}
        self.errors: list[dict[str, Any]] = []
        self.fetch_count = 0
        self.representation_count = 0

    async def run(self) -> None:
        batches = self.plan.batches
        if not batches:
            return
        if len(batches) == 1:
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

        await asyncio.gather(*(run_one(b) for b in batches))

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
            self.errors.append({"message": message, "extensions": extensions})
            return
        for path in paths:
            self.errors.append({"message": message, "path": path, "extensions": dict(extensions)})

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
                    g.selection.restore_aliases(data)
                deep_merge(self.data, data, self.sg)
            for e in result.get("errors") or ():
                self.errors.append(self._subgraph_error(e, g, None, None))
            return
        prepared = [self._representations(g) for g in b.members]
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
                g.selection.restore_aliases(entities)
            for i, ent in enumerate(entities[: len(reps)]):
                if isinstance(ent, dict):
                    for obj in targets[i]:
                        deep_merge(obj, ent, self.sg)
        for e in result.get("errors") or ():
            path = e.get("path") if isinstance(e, dict) else None
            member = 0
            if isinstance(path, list) and path and path[0] in b.aliases:
                member = b.aliases.index(path[0])
            g = b.members[member]
            self.errors.append(self._subgraph_error(e, g, prepared[member][1], b.aliases[member]))

    def _collect(self, g: FetchGroup) -> list[dict[str, Any]]:
        """The objects at the group's path (lists flattened, nulls skipped)."""
        implements = self.sg.implements
        current: list[Any] = [self.data]
        for key, cond in g.path:
            nxt: list[Any] = []
            for obj in current:
                if cond is not None:
                    tn = obj.get("__typename")
                    if tn is not None and tn != cond and not implements(tn, cond):
                        continue
                v = obj.get(key)
                if isinstance(v, dict):
                    nxt.append(v)
                elif isinstance(v, list):
                    _flatten_objects(v, nxt)
            current = nxt
        return current

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

    def _rep_type(self, g: FetchGroup, obj: dict[str, Any]) -> tuple[str, str] | None:
        tn = obj.get("__typename")
        for k in g.reps:
            if tn is None or tn == k or self.sg.implements(tn, k):
                info = self.sg.types.get(k)
                if k == tn or tn is None:
                    return k, k
                if info is not None and g.graph in info.interface_object_in:
                    return k, k
                # an entity interface: send the concrete type when the target knows it
                ti = self.sg.types.get(tn)
                if (
                    ti is not None
                    and g.graph in ti.graphs
                    and isinstance(self.sg.schema.type_map.get(tn), GraphQLObjectType)
                ):
                    return k, tn
                return k, k
        return None

    def _extract(self, obj: dict[str, Any], sel: SelSet) -> dict[str, Any]:
        out: dict[str, Any] = {}
        tn = obj.get("__typename")
        for key, f in sel.fields.items():
            if key not in obj:
                if key == "__typename":
                    continue
                raise _Missing(key)
            v = obj[key]
            if f.sub is not None and v is not None:
                v = self._extract_value(v, f.sub)
            out[f.original_key or key] = v
        for tc, frag in sel.fragments.items():
            if tn is not None and self.sg.implements(tn, tc):
                out.update(self._extract(obj, frag))
        return out

    def _extract_value(self, v: Any, sel: SelSet) -> Any:
        if isinstance(v, list):
            return [self._extract_value(i, sel) if i is not None else None for i in v]
        if isinstance(v, dict):
            return self._extract(v, sel)
        return v

    def _representations(
        self, g: FetchGroup
    ) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
        """Deduplicated representations of the objects at the group's path, and for each the
        objects that asked for it."""
        reps: list[dict[str, Any]] = []
        index: dict[bytes, int] = {}
        targets: list[list[dict[str, Any]]] = []
        for obj in self._collect(g):
            rt = self._rep_type(g, obj)
            if rt is None:
                continue
            k, typename = rt
            try:
                rep = {"__typename": typename, **self._extract(obj, g.reps[k])}
            except _Missing:
                continue
            rep["__typename"] = typename
            ident = orjson.dumps(rep, option=orjson.OPT_SORT_KEYS)
            i = index.get(ident)
            if i is None:
                i = index[ident] = len(reps)
                reps.append(rep)
                targets.append([])
            targets[i].append(obj)
        return reps, targets

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


class ResponseShaper:
    """Builds the client's response from merged data, with null propagation."""

    def __init__(
        self,
        api_schema: GraphQLSchema,
        sg: Supergraph,
        errors: list[dict[str, Any]],
        cache: dict[tuple[int, str], Any] | None = None,
        denied: Mapping[tuple[str, str], str] | None = None,
    ) -> None:
        self.denied = denied or {}
        self.schema = api_schema
        self.sg = sg
        self.errors = errors
        self._error_paths = [tuple(e["path"]) for e in errors if isinstance(e.get("path"), list)]
        self._pathless_errors = any("path" not in e for e in errors)
        # (id of a selection list, object type) -> collected fields; kept with the plan so
        # that every request after the first reuses it
        self._cache: dict[tuple[int, str], Any] = {} if cache is None else cache

    def shape_root(
        self, root_type: str, data: dict[str, Any], selections: list[CSelection]
    ) -> dict[str, Any] | None:
        out = self._object(root_type, data, selections, None)
        return None if out is _INVALID else out

    def _fields(
        self, selections: list[CSelection], type_name: str
    ) -> list[tuple[str, str, Any, list[CSelection], int]]:
        key = (id(selections), type_name)
        hit = self._cache.get(key)
        if hit is not None:
            return hit[1]
        collected: dict[str, list[CField]] = {}

        def visit(sels: list[CSelection]) -> None:
            for s in sels:
                if isinstance(s, CField):
                    collected.setdefault(s.response_key, []).append(s)
                elif s.type_condition is None or self.sg.implements(type_name, s.type_condition):
                    visit(s.selections)

        visit(selections)
        t = self.schema.type_map.get(type_name)
        fields_def = t.fields if isinstance(t, GraphQLObjectType | GraphQLInterfaceType) else {}
        out = []
        for rkey, cfs in collected.items():
            name = cfs[0].name
            sub: list[CSelection] = (
                cfs[0].selections if len(cfs) == 1 else [s for cf in cfs for s in cf.selections]
            )
            fdef = fields_def.get(name)
            if (type_name, name) in self.denied:
                kind = _DENIED
            elif name == "__typename":
                kind = _TYPENAME
            elif name in ("__schema", "__type"):
                kind = _RAW
            elif fdef is None:
                kind = _UNKNOWN
            else:
                ftype = fdef.type
                nonnull = isinstance(ftype, GraphQLNonNull)
                inner = ftype.of_type if nonnull else ftype
                if isinstance(inner, GraphQLScalarType):
                    kind = _SCALAR_NONNULL if nonnull else _SCALAR
                else:
                    kind = _OTHER
            out.append((rkey, name, fdef, sub, kind))
        # the selection list is kept referenced so its id stays unique
        self._cache[key] = (selections, out)
        return out

    def _object(
        self, type_name: str, obj: dict[str, Any], selections: list[CSelection], path: LazyPath
    ) -> Any:
        out: dict[str, Any] = {}
        for key, name, fdef, sub, kind in self._fields(selections, type_name):
            if kind == _SCALAR:
                out[key] = obj.get(key)
            elif kind == _TYPENAME:
                out[key] = type_name
            elif kind == _SCALAR_NONNULL:
                v = obj.get(key)
                if v is None:
                    self._null_error((path, key), type_name, name)
                    return _INVALID
                out[key] = v
            elif kind == _OTHER:
                v = self._value(fdef.type, obj.get(key), sub, (path, key), type_name, name)
                if v is _INVALID:
                    return _INVALID
                out[key] = v
            elif kind == _RAW:
                out[key] = obj.get(key)
            elif kind == _DENIED:
                if not self._deny((path, key), type_name, name, fdef):
                    return _INVALID
                out[key] = None
            else:
                out[key] = None
        return out

    def _deny(self, path: LazyPath, type_name: str, name: str, fdef: Any) -> bool:
        """Answer a field the caller may not see; False when its null must propagate."""
        code = self.denied[(type_name, name)]
        full = _materialize(path)
        reason = "an authenticated caller" if code == "UNAUTHENTICATED" else "more scopes"
        self.errors.append(
            {
                "message": f"Field '{type_name}.{name}' needs {reason}.",
                "path": full,
                "extensions": {"code": code},
            }
        )
        self._error_paths.append(tuple(full))
        return not isinstance(fdef.type, GraphQLNonNull)

    def _null_error(self, path: LazyPath, parent: str, field_name: str) -> None:
        full = _materialize(path)
        if not self._explained(full):
            self.errors.append(
                {
                    "message": f"Cannot return null for non-nullable field {parent}.{field_name}.",
                    "path": full,
                }
            )
            self._error_paths.append(tuple(full))

    def _explained(self, path: Path) -> bool:
        if self._pathless_errors:
            return True
        tp = tuple(path)
        for ep in self._error_paths:
            n = min(len(ep), len(tp))
            if ep[:n] == tp[:n]:
                return True
        return False

    def _value(
        self,
        t: GraphQLOutputType,
        raw: Any,
        sub: list[CSelection],
        path: LazyPath,
        parent: str,
        field_name: str,
    ) -> Any:
        if isinstance(t, GraphQLNonNull):
            v = self._value(t.of_type, raw, sub, path, parent, field_name)
            if v is None:
                self._null_error(path, parent, field_name)
                return _INVALID
            return v
        if raw is None:
            return None
        if isinstance(t, GraphQLList):
            if not isinstance(raw, list):
                return None
            items = []
            inner = t.of_type
            for i, item in enumerate(raw):
                v = self._value(inner, item, sub, (path, i), parent, field_name)
                if v is _INVALID:
                    return None
                items.append(v)
            return items
        if isinstance(t, GraphQLScalarType):
            return raw
        if isinstance(t, GraphQLObjectType):
            if not isinstance(raw, dict):
                return None
            v = self._object(t.name, raw, sub, path)
            return None if v is _INVALID else v
        if isinstance(t, GraphQLInterfaceType | GraphQLUnionType):
            if not isinstance(raw, dict):
                return None
            tn = raw.get("__typename")
            rt = self.schema.type_map.get(tn) if isinstance(tn, str) else None
            if not isinstance(rt, GraphQLObjectType) or not self.schema.is_sub_type(t, rt):
                if tn == t.name and isinstance(t, GraphQLInterfaceType):
                    v = self._object(t.name, raw, sub, path)
                    return None if v is _INVALID else v
                return None
            v = self._object(rt.name, raw, sub, path)
            return None if v is _INVALID else v
        if isinstance(t, GraphQLEnumType):
            if raw not in t.values:
                self.errors.append(
                    {
                        "message": f"Enum '{t.name}' cannot represent value: "
                        + orjson.dumps(raw).decode(),
                        "path": _materialize(path),
                    }
                )
                return None
            return raw
        return raw
