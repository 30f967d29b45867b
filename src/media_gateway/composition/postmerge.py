"""Checks on the merged supergraph.

Besides the interface contract, this approximates Apollo's satisfiability validation: every
field a client can select must be resolvable from every subgraph in which its parent type can be
reached, either there or in a subgraph the planner can jump to through a resolvable @key, and
every @requires must be satisfiable that way.
"""

from __future__ import annotations

from collections import deque

from .errors import CompositionError
from .fieldset import FieldSetError, parse_field_set
from .model import Field, TypeDef, base_name
from .subgraph import Subgraph
from .supergraph import Supergraph


def validate_supergraph(sg: Supergraph, subgraphs: list[Subgraph]) -> list[CompositionError]:
    errors = _interface_implementations(sg, subgraphs)
    if errors:
        return errors
    return _Satisfiability(sg, subgraphs).check()


def _interface_implementations(sg: Supergraph, subgraphs: list[Subgraph]) -> list[CompositionError]:
    errors: list[CompositionError] = []
    for t in sg.types.values():
        if t.kind not in ("OBJECT", "INTERFACE"):
            continue
        for itf in t.interfaces:
            itf_def = sg.types.get(itf)
            if itf_def is None:
                continue
            for fname in itf_def.fields:
                if fname in t.fields:
                    continue
                declaring = [s.name for s in subgraphs if s.field_of(itf, fname) is not None]
                implementing = [
                    s.name
                    for s in subgraphs
                    if t.name in s.types and itf in s.types[t.name].interfaces
                ]
                errors.append(
                    CompositionError(
                        "INTERFACE_FIELD_NO_IMPLEM",
                        f'Interface field "{itf}.{fname}" is declared in '
                        f'{_names(declaring)} but type "{t.name}", which implements "{itf}" '
                        f'only in {_names(implementing)} does not have field "{fname}".',
                        tuple(declaring + implementing),
                        t.name,
                        fname,
                    )
                )
    return errors


def _names(names: list[str]) -> str:
    quoted = [f'"{n}"' for n in names]
    if len(quoted) == 1:
        return "subgraph " + quoted[0]
    return "subgraphs " + ", ".join(quoted[:-1]) + " and " + (quoted[-1] if quoted else "")


class _Satisfiability:
    def __init__(self, sg: Supergraph, subgraphs: list[Subgraph]) -> None:
        self.sg = sg
        self.subs = {s.name: s for s in subgraphs}
        self.overridden: set[tuple[str, str]] = set()  # (subgraph, coordinate) no longer served
        for s in subgraphs:
            for t in s.types.values():
                for f in t.fields.values():
                    d = f.fed("override")
                    if d is not None and d.str_arg("label") is None:
                        self.overridden.add((d.str_arg("from") or "", f.coordinate))

    def resolvable(self, sub: Subgraph, type_name: str, fname: str) -> bool:
        f = sub.field_of(type_name, fname)
        if f is not None:
            return not sub.is_external(f) and (sub.name, f.coordinate) not in self.overridden
        # fields contributed by an @interfaceObject
        sg_type = self.sg.types.get(type_name)
        for itf in sg_type.interfaces if sg_type is not None else []:
            it = sub.types.get(itf)
            if it is not None and sub.is_interface_object(it):
                f = it.fields.get(fname)
                if f is not None and not sub.is_external(f):
                    return True
        return False

    def available(self, sub: Subgraph, type_name: str, fname: str) -> bool:
        """A key field the subgraph can send (resolvable, or an external key of its own)."""
        if self.resolvable(sub, type_name, fname):
            return True
        f = sub.field_of(type_name, fname)
        return f is not None and sub.is_fake_external(f)

    def entry_keys(self, sub: Subgraph, type_name: str) -> list[list[str]]:
        """Top-level fields of each resolvable key of ``type_name`` (or an interface object)."""
        result: list[list[str]] = []
        candidates: list[TypeDef] = []
        t = sub.types.get(type_name)
        if t is not None:
            candidates.append(t)
        sg_type = self.sg.types.get(type_name)
        for itf in sg_type.interfaces if sg_type is not None else []:
            it = sub.types.get(itf)
            if it is not None and (sub.is_interface_object(it) or it.kind == "INTERFACE"):
                candidates.append(it)
        for c in candidates:
            for key in c.fed_all("key"):
                if key.bool_arg("resolvable") is False:
                    continue
                try:
                    sel = parse_field_set(key.str_arg("fields") or "")
                except FieldSetError:
                    continue
                names = [
                    n.name.value
                    for n in sel.selections
                    if hasattr(n, "name") and n.name.value != "__typename"
                ]
                result.append(names)
        return result

    def reach(self, start: Subgraph, type_name: str) -> list[Subgraph]:
        """``start`` and the subgraphs a key jump can reach, collecting key fields anywhere."""
        order = [start]
        changed = True
        while changed:
            changed = False
            for other in self.subs.values():
                if other in order:
                    continue
                for key in self.entry_keys(other, type_name):
                    if all(any(self.available(m, type_name, k) for m in order) for k in key):
                        order.append(other)
                        changed = True
                        break
        return order

    def closure(self, options: frozenset[str], type_name: str) -> list[Subgraph]:
        result: dict[str, Subgraph] = {}
        for name in sorted(options):
            for sub in self.reach(self.subs[name], type_name):
                result.setdefault(sub.name, sub)
        return list(result.values())

    def possible_objects(self, type_name: str) -> list[str]:
        t = self.sg.types.get(type_name)
        if t is None:
            return []
        if t.kind == "OBJECT":
            return [t.name]
        if t.kind == "UNION":
            return list(t.members)
        if t.kind == "INTERFACE":
            return [
                o.name
                for o in self.sg.types.values()
                if o.kind == "OBJECT" and type_name in o.interfaces
            ]
        return []

    def check(self) -> list[CompositionError]:
        """Walk the API schema from the root types, keeping the subgraphs a path may be in."""
        errors: list[CompositionError] = []
        reported: set[str] = set()
        seen: set[tuple[str, frozenset[str]]] = set()
        queue: deque[tuple[str, frozenset[str], str]] = deque()
        for root in self.sg.roots.values():
            root_type = self.sg.types.get(root)
            if root_type is None:
                continue
            for f in root_type.fields.values():
                if _inaccessible(f):
                    continue
                owners = frozenset(
                    s.name for s in self.subs.values() if self.resolvable(s, root, f.name)
                )
                if owners:
                    queue.append((base_name(f.type), owners, f"{root}.{f.name}"))
        while queue and len(seen) < 20000:
            type_name, options, via = queue.popleft()
            for obj in self.possible_objects(type_name):
                in_graphs = frozenset(
                    o
                    for o in options
                    if obj in self.subs[o].types or self.entry_keys(self.subs[o], obj)
                )
                if not in_graphs:
                    continue
                state = (obj, in_graphs)
                if state in seen:
                    continue
                seen.add(state)
                sg_type = self.sg.types[obj]
                if _inaccessible(sg_type):
                    continue
                closure = self.closure(in_graphs, obj)
                for f in sg_type.fields.values():
                    if _inaccessible(f):
                        continue
                    owners = frozenset(
                        s.name
                        for s in closure
                        if self.resolvable(s, obj, f.name) or self.provided(s, obj, f.name)
                    )
                    if owners:
                        queue.append((base_name(f.type), owners, f"{obj}.{f.name}"))
                        continue
                    coord = f"{obj}.{f.name}"
                    if coord in reported:
                        continue
                    reported.add(coord)
                    where = sorted(in_graphs)
                    elsewhere = [
                        o.name for o in self.subs.values() if self.resolvable(o, obj, f.name)
                    ]
                    detail = (
                        f"it is resolvable only in {_names(elsewhere)}, which cannot be "
                        f'reached through a resolvable @key of "{obj}" whose fields '
                        f"{_names(where)} can provide"
                        if elsewhere
                        else "no subgraph can resolve it"
                    )
                    errors.append(
                        CompositionError(
                            "SATISFIABILITY_ERROR",
                            f'Field "{coord}" cannot be satisfied when "{obj}" is reached through '
                            f'"{via}" (in {_names(where)}): {detail}.',
                            tuple(where + elsewhere),
                            obj,
                            f.name,
                        )
                    )
        for sub in self.subs.values():
            for t in sub.types.values():
                if t.kind != "OBJECT":
                    continue
                for f in t.fields.values():
                    errors.extend(self.check_requires(sub, t, f))
        return errors

    def provided(self, sub: Subgraph, type_name: str, fname: str) -> bool:
        f = sub.field_of(type_name, fname)
        return f is not None and sub.is_partially_external(f)

    def check_requires(self, sub: Subgraph, t: TypeDef, f: Field) -> list[CompositionError]:
        req = f.fed("requires")
        if req is None:
            return []
        try:
            sel = parse_field_set(req.str_arg("fields") or "")
        except FieldSetError:
            return []
        reach = self.reach(sub, t.name)
        missing: list[str] = []
        for node in sel.selections:
            name = getattr(getattr(node, "name", None), "value", None)
            if name is None or name == "__typename":
                continue
            if not any(self.resolvable(o, t.name, name) for o in reach[1:]) and not (
                self.resolvable(sub, t.name, name)
            ):
                missing.append(name)
        if not missing:
            return []
        listed = ", ".join(f'"{t.name}.{m}"' for m in missing)
        return [
            CompositionError(
                "SATISFIABILITY_ERROR",
                f'[{sub.name}] cannot satisfy @require conditions on field "{f.coordinate}": '
                f'{listed} cannot be fetched from any subgraph reachable from "{sub.name}" through '
                f'a resolvable @key of "{t.name}".',
                (sub.name,),
                t.name,
                f.name,
            )
        ]


def _inaccessible(element: Field | TypeDef) -> bool:
    return any(d.name == "inaccessible" for d in element.directives)
