"""Response shaping and representation building.

`ResponseShaper` builds the client's response from the merged data: the client's own
selection (aliases, fragments, `__typename`), which drops every field the planner added, and
GraphQL null propagation. `representations` turns the objects at an entity group's path
into deduplicated `_entities` representations.

Subgraph results are shared: one result may answer several client requests at once (the
edge's de-duplication of identical in-flight fetches), so nothing here or in the executor
changes a result. An execution's data tree refers to the results' objects as they are, and
an object is copied (`Owned`, a shallow copy) only where a later fetch merges into it.
"""

from __future__ import annotations

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

from .operation import CField, CSelection
from .plan import FetchGroup, SelSet
from .supergraph import Supergraph

_INVALID = object()

Path = list[str | int]
# a response path built only when an error needs it: (parent, key) pairs, None at the root
LazyPath = tuple[Any, str | int] | None

# how the shaper treats a selected field
_SCALAR, _SCALAR_NONNULL, _TYPENAME, _OTHER, _RAW, _UNKNOWN, _DENIED = range(7)


class Owned(dict[str, Any]):
    """An object of an execution's own data tree: merging into it changes no subgraph
    result. Every other dict in the tree belongs to a (possibly shared) result."""

    __slots__ = ()


class OwnedList(list[Any]):
    """A list of an execution's own data tree (see `Owned`)."""

    __slots__ = ()


def owned(obj: dict[str, Any]) -> Owned:
    return obj if type(obj) is Owned else Owned(obj)


def _own_items(v: list[Any], out: list[Any]) -> OwnedList:
    """`v` as an owned list whose objects (in nested lists too) are owned; the objects are
    appended to `out`, lists flattened."""
    lst = v if type(v) is OwnedList else OwnedList(v)
    append = out.append
    for i, item in enumerate(lst):
        t = type(item)
        if t is Owned:
            append(item)
        elif t is dict:
            item = lst[i] = Owned(item)
            append(item)
        elif t is OwnedList or t is list:
            lst[i] = _own_items(item, out)
        elif isinstance(item, dict):
            item = lst[i] = Owned(item)
            append(item)
        elif isinstance(item, list):
            lst[i] = _own_items(item, out)
    return lst


def unaliased(sel: SelSet, value: Any) -> Any:
    """A subgraph result with the privately aliased fields of `sel` renamed back to the
    client's keys, as new objects: the result itself is left as it is."""
    if isinstance(value, list):
        return [unaliased(sel, item) for item in value]
    if not isinstance(value, dict):
        return value
    out = dict(value)
    _unalias_into(sel, out)
    return out


def _unalias_into(sel: SelSet, out: dict[str, Any]) -> None:
    for f in sel.fields.values():
        if f.original_key is not None and f.response_key in out:
            out[f.original_key] = out.pop(f.response_key)
            key = f.original_key
        else:
            key = f.response_key
        if f.sub is not None and key in out and f.sub.has_aliases():
            out[key] = unaliased(f.sub, out[key])
    for frag in sel.fragments.values():
        _unalias_into(frag, out)


def _unwrap(t: Any) -> Any:
    return t.of_type if isinstance(t, GraphQLNonNull) else t


def _materialize(path: LazyPath) -> Path:
    out: Path = []
    while path is not None:
        path, key = path
        out.append(key)
    out.reverse()
    return out


class _Missing(Exception):
    pass


_MISSING_TYPE: Any = object()


def collect(
    sg: Supergraph,
    data: dict[str, Any],
    g: FetchGroup,
    found: dict[Any, list[dict[str, Any]]] | None = None,
    prefixes: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    """The objects at the group's path (lists flattened, nulls skipped), made the
    execution's own on the way (each object and list copied once, on first touch, and put in
    place of the original in `data`), so that the group's result can be merged into them.

    `found`: the objects at each path prefix met so far in this execution (`prefixes`: the
    group's path prefixes as keys); the walk starts from the longest one known and records
    the others. The executor empties it whenever a merge may have changed them."""
    implements = sg.implements
    path = g.path
    current: list[Any] = [data]
    start = 0
    if found is not None and prefixes:
        for i in range(len(path), 0, -1):
            hit = found.get(prefixes[i - 1])
            if hit is not None:
                current, start = hit, i
                break
    for step in range(start, len(path)):
        key, cond = path[step]
        nxt: list[Any] = []
        append = nxt.append
        for obj in current:
            if cond is not None:
                tn = obj.get("__typename")
                if tn is not None and tn != cond and not implements(tn, cond):
                    continue
            v = obj.get(key)
            if v is None:
                continue
            t = type(v)
            if t is Owned:
                append(v)
            elif t is OwnedList or t is list:
                obj[key] = _own_items(v, nxt)
            elif t is dict or isinstance(v, dict):
                v = obj[key] = Owned(v)
                append(v)
            elif isinstance(v, list):
                obj[key] = _own_items(v, nxt)
        current = nxt
        if found is not None and prefixes:
            found[prefixes[step]] = nxt
    return current


def _rep_type(sg: Supergraph, g: FetchGroup, obj: dict[str, Any]) -> tuple[str, str] | None:
    tn = obj.get("__typename")
    for k in g.reps:
        if tn is None or tn == k or sg.implements(tn, k):
            info = sg.types.get(k)
            if k == tn or tn is None:
                return k, k
            if info is not None and g.graph in info.interface_object_in:
                return k, k
            # an entity interface: send the concrete type when the target knows it
            ti = sg.types.get(tn)
            if (
                ti is not None
                and g.graph in ti.graphs
                and isinstance(sg.schema.type_map.get(tn), GraphQLObjectType)
            ):
                return k, tn
            return k, k
    return None


def _extract(sg: Supergraph, obj: dict[str, Any], sel: SelSet) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tn = obj.get("__typename")
    for key, f in sel.fields.items():
        if key not in obj:
            if key == "__typename":
                continue
            raise _Missing(key)
        v = obj[key]
        if f.sub is not None and v is not None:
            v = _extract_value(sg, v, f.sub)
        out[f.original_key or key] = v
    for tc, frag in sel.fragments.items():
        if tn is not None and sg.implements(tn, tc):
            out.update(_extract(sg, obj, frag))
    return out


def _extract_value(sg: Supergraph, v: Any, sel: SelSet) -> Any:
    if isinstance(v, list):
        return [_extract_value(sg, i, sel) if i is not None else None for i in v]
    if isinstance(v, dict):
        return _extract(sg, v, sel)
    return v


def _flat_fields(sel: SelSet) -> tuple[str, ...] | None:
    """The response keys of a representation selection made of leaf fields only (the usual
    `@key` and `@requires` fields), `__typename` left out; None for any other selection."""
    if sel.fragments:
        return None
    keys: list[str] = []
    for key, f in sel.fields.items():
        if f.sub is not None or f.original_key is not None:
            return None
        if key != "__typename":
            keys.append(key)
    return tuple(keys)


class _RepPlan:
    """What a group needs to build its representations, worked out once per plan: the
    representation type for each `__typename` met, and the leaf fields of each selection."""

    __slots__ = ("flat", "group", "prefixes", "types")

    def __init__(self, g: FetchGroup) -> None:
        self.group = g  # kept referenced: the cache is keyed by its id
        self.types: dict[str | None, tuple[str, str] | None] = {}
        self.flat = {k: _flat_fields(sel) for k, sel in g.reps.items()}
        self.prefixes = tuple(tuple(g.path[: i + 1]) for i in range(len(g.path)))


def representations(
    sg: Supergraph,
    data: dict[str, Any],
    g: FetchGroup,
    cache: dict[Any, Any] | None = None,
    found: dict[Any, list[dict[str, Any]]] | None = None,
) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Deduplicated representations of the objects at the group's path, and for each the
    objects that asked for it. `cache`: kept with the plan (what `_RepPlan` works out);
    `found`: see `collect`."""
    key = (id(g), "representations")
    rp: _RepPlan | None = cache.get(key) if cache is not None else None
    if rp is None or rp.group is not g:
        rp = _RepPlan(g)
        if cache is not None:
            cache[key] = rp
    types, flat = rp.types, rp.flat
    reps: list[dict[str, Any]] = []
    targets: list[list[dict[str, Any]]] = []
    # identity of a representation -> the objects that asked for it
    index: dict[Any, list[dict[str, Any]]] = {}
    last_tn: Any = _MISSING_TYPE
    rt: tuple[str, str] | None = None
    for obj in collect(sg, data, g, found, rp.prefixes):
        tn = obj.get("__typename")
        if tn is not last_tn:
            rt = types.get(tn, _MISSING_TYPE)
            if rt is _MISSING_TYPE:
                rt = types[tn] = _rep_type(sg, g, obj)
            last_tn = tn
        if rt is None:
            continue
        k, typename = rt
        fields = flat[k]
        if fields is not None:
            # leaf fields: the identity is the values themselves when they are strings or
            # integers (no two such tuples are equal unless the JSON is)
            if len(fields) == 1:
                value = obj.get(fields[0], _MISSING_TYPE)
                if value is _MISSING_TYPE:
                    continue
                values: tuple[Any, ...] = (value,)
                simple = type(value) is str or type(value) is int
            else:
                try:
                    values = tuple([obj[f] for f in fields])
                except KeyError:
                    continue
                simple = True
                for v in values:
                    if type(v) is not str and type(v) is not int:
                        simple = False
                        break
            if simple:
                ident: Any = (typename, fields, values)
                asked = index.get(ident)
                if asked is None:
                    reps.append({"__typename": typename, **dict(zip(fields, values, strict=True))})
                    asked = index[ident] = []
                    targets.append(asked)
                asked.append(obj)
                continue
        try:
            rep = {"__typename": typename, **_extract(sg, obj, g.reps[k])}
        except _Missing:
            continue
        rep["__typename"] = typename
        ident = orjson.dumps(rep, option=orjson.OPT_SORT_KEYS)
        asked = index.get(ident)
        if asked is None:
            reps.append(rep)
            asked = index[ident] = []
            targets.append(asked)
        asked.append(obj)
    return reps, targets


class ResponseShaper:
    """Builds the client's response from merged data, with null propagation."""

    def __init__(
        self,
        api_schema: GraphQLSchema,
        sg: Supergraph,
        errors: list[dict[str, Any]],
        cache: dict[Any, Any] | None = None,
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
        self._cache: dict[Any, Any] = {} if cache is None else cache

    def shape_root(
        self, root_type: str, data: dict[str, Any], selections: list[CSelection]
    ) -> dict[str, Any] | None:
        out = self._object(root_type, data, selections, None)
        return None if out is _INVALID else out

    def shape_object(
        self, type_name: str, data: dict[str, Any], selections: list[CSelection], path: Path
    ) -> dict[str, Any] | None:
        """An object at `path` of the response (a deferred fragment's increment): None when
        a null propagates up to it."""
        lazy: LazyPath = None
        for key in path:
            lazy = (lazy, key)
        out = self._object(type_name, data, selections, lazy)
        return None if out is _INVALID else out

    def _fields(
        self, selections: list[CSelection], type_name: str
    ) -> list[tuple[str, str, Any, list[CSelection], int]]:
        key = (id(selections), type_name)
        hit = self._cache.get(key)
        if hit is not None:
            fields: list[tuple[str, str, Any, list[CSelection], int]] = hit[1]
            return fields
        collected: dict[str, list[CField]] = {}

        def visit(sels: list[CSelection]) -> None:
            for s in sels:
                if isinstance(s, CField):
                    collected.setdefault(s.response_key, []).append(s)
                elif s.defer is not None:
                    continue  # delivered in an increment of its own
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
        return self._shape_fn(selections, type_name)(self, obj, path)

    def _shape_fn(self, selections: list[CSelection], type_name: str) -> Any:
        """The compiled shaping of `selections` on objects of `type_name` (kept with the
        plan)."""
        key = (id(selections), type_name, "shape")
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = (selections, self._compile(selections, type_name))
        return hit[1]

    def _compile(self, selections: list[CSelection], type_name: str) -> Any:
        """The shaping of one selection on objects of one type as straight-line Python: one
        step per response key, each field's kind decided here once (kept with the plan)."""
        consts: dict[str, Any] = {"INVALID": _INVALID, "TN": type_name}
        lines = ["def shape(self, obj, path):", "    get = obj.get"]
        keys: list[str] = []
        for i, (key, name, fdef, sub, kind) in enumerate(self._fields(selections, type_name)):
            k, n, v = repr(key), repr(name), f"v{i}"
            keys.append(f"{k}: {v}")
            if kind in (_SCALAR, _RAW):
                lines.append(f"    {v} = get({k})")
            elif kind == _TYPENAME:
                lines.append(f"    {v} = TN")
            elif kind == _SCALAR_NONNULL:
                lines += [
                    f"    {v} = get({k})",
                    f"    if {v} is None:",
                    f"        self._null_error((path, {k}), TN, {n})",
                    "        return INVALID",
                ]
            elif kind == _OTHER:
                consts[f"t{i}"], consts[f"s{i}"] = fdef.type, sub
                ftype = fdef.type
                nonnull = isinstance(ftype, GraphQLNonNull)
                inner = ftype.of_type if nonnull else ftype
                if isinstance(inner, GraphQLObjectType):
                    consts[f"n{i}"] = inner.name
                    lines += [
                        f"    raw = get({k})",
                        "    if isinstance(raw, dict):",
                        f"        {v} = self._object(n{i}, raw, s{i}, (path, {k}))",
                        f"        if {v} is INVALID:",
                        f"            {v} = None",
                        "    else:",
                        f"        {v} = None",
                    ]
                    if nonnull:
                        lines += [
                            f"    if {v} is None:",
                            f"        self._null_error((path, {k}), TN, {n})",
                            "        return INVALID",
                        ]
                elif isinstance(inner, GraphQLList) and isinstance(
                    _unwrap(inner.of_type), GraphQLObjectType
                ):
                    # a list of objects: the items shaped in a loop here, each by the
                    # compiled shaping of its type
                    item_type = inner.of_type
                    consts[f"n{i}"] = _unwrap(item_type).name
                    lines += [
                        f"    raw = get({k})",
                        "    if isinstance(raw, list):",
                        f"        {v} = []",
                        f"        lp = (path, {k})",
                        f"        fn = self._shape_fn(s{i}, n{i})",
                        "        for idx, item in enumerate(raw):",
                        "            if isinstance(item, dict):",
                        "                x = fn(self, item, (lp, idx))",
                        "                if x is INVALID:",
                        "                    x = None",
                        "            else:",
                        "                x = None",
                    ]
                    if isinstance(item_type, GraphQLNonNull):
                        lines += [
                            "            if x is None:",
                            f"                self._null_error((lp, idx), TN, {n})",
                            f"                {v} = None",
                            "                break",
                        ]
                    lines += [
                        f"            {v}.append(x)",
                        "    else:",
                        f"        {v} = None",
                    ]
                    if nonnull:
                        lines += [
                            f"    if {v} is None:",
                            f"        self._null_error((path, {k}), TN, {n})",
                            "        return INVALID",
                        ]
                else:
                    lines += [
                        f"    {v} = self._value(t{i}, get({k}), s{i}, (path, {k}), TN, {n})",
                        f"    if {v} is INVALID:",
                        "        return INVALID",
                    ]
            elif kind == _DENIED:
                consts[f"f{i}"] = fdef
                lines += [
                    f"    if not self._deny((path, {k}), TN, {n}, f{i}):",
                    "        return INVALID",
                    f"    {v} = None",
                ]
            else:
                lines.append(f"    {v} = None")
        lines.append("    return {" + ", ".join(keys) + "}")
        exec("\n".join(lines), consts)
        return consts["shape"]

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
