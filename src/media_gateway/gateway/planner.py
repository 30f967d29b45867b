"""The query planner: from a client operation to fetch groups over the subgraphs.

Planning walks the client's selection from the root. Each field is resolved in the subgraph
that fetched its parent object when that subgraph can resolve it (and its whole sub-selection,
or reach the rest through further entity jumps); otherwise the planner jumps to another
subgraph through `_entities`, choosing the target and key by a small cost model (number of
extra fetches). The fields a jump needs (keys, @requires) are planned as selections at the
parent position, which may themselves need jumps; those fetches become dependencies.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from graphql import (
    FieldNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    print_ast,
)

from .operation import CField, CFragment, CSelection, Defer
from .plan import FetchGroup, PathStep, Plan, SelSet, batch_groups
from .supergraph import JoinField, Key, Supergraph, parse_field_set

INF = math.inf
Fields = list[tuple[str, list[CField]]]


class PlanningError(Exception):
    pass


@dataclass(frozen=True)
class Jump:
    graph: str
    rep_type: str  # the __typename sent in representations
    key: Key
    requires: str | None


def selection_from_ast(sel_set: SelectionSetNode | None) -> list[CSelection]:
    out: list[CSelection] = []
    if sel_set is None:
        return out
    for sel in sel_set.selections:
        if isinstance(sel, FieldNode):
            out.append(
                CField(
                    (sel.alias or sel.name).value,
                    sel.name.value,
                    tuple(sel.arguments or ()),
                    selection_from_ast(sel.selection_set),
                )
            )
        elif isinstance(sel, InlineFragmentNode):
            tc = sel.type_condition.name.value if sel.type_condition else None
            out.append(CFragment(tc, selection_from_ast(sel.selection_set)))
    return out


class QueryPlanner:
    def __init__(self, supergraph: Supergraph, override_labels: Iterable[str] = ()) -> None:
        self.sg = supergraph
        self.labels = frozenset(override_labels)
        self._name_to_enum = {g.name: e for e, g in supergraph.graphs.items()}
        self._fieldset_cache: dict[str, list[CSelection]] = {}
        self._requirement_cache: dict[str, list[CSelection]] = {}
        self._memo: dict[tuple[str, str, int, int], tuple[float, object, object]] = {}

    # ------------------------------------------------------------------ type helpers
    def collect_fields(self, selections: list[CSelection], type_name: str) -> Fields:
        out: dict[str, list[CField]] = {}

        def visit(sels: list[CSelection]) -> None:
            for s in sels:
                if isinstance(s, CField):
                    out.setdefault(s.response_key, []).append(s)
                elif s.type_condition is None or self.sg.implements(type_name, s.type_condition):
                    visit(s.selections)

        visit(selections)
        return list(out.items())

    def requirement(self, text: str) -> list[CSelection]:
        """A key or @requires field set as fetched by the parent: fields with arguments get
        a private alias so they never collide with the client's own use of the field."""
        sels = self._requirement_cache.get(text)
        if sels is None:
            sels = self._requirement_cache[text] = _alias_arguments(self.fieldset(text))
        return sels

    def fieldset(self, text: str) -> list[CSelection]:
        sels = self._fieldset_cache.get(text)
        if sels is None:
            sels = self._fieldset_cache[text] = selection_from_ast(parse_field_set(text))
        return sels

    @staticmethod
    def merged_sub(cfs: list[CField]) -> list[CSelection]:
        if len(cfs) == 1:
            return cfs[0].selections
        out: list[CSelection] = []
        for cf in cfs:
            out.extend(cf.selections)
        return out

    def field_type(self, parent: str, name: str) -> str:
        t = self.sg.field_type_name(parent, name)
        if t is None:
            raise PlanningError(f"Cannot query field '{name}' on type '{parent}'.")
        return t

    # ------------------------------------------------------------ resolvability
    def _excluded_by_override(self, type_name: str, name: str) -> set[str]:
        excluded: set[str] = set()
        for e in self.sg.field_entries(type_name, name):
            if e.override is None or e.graph is None:
                continue
            source = self._name_to_enum.get(e.override, e.override)
            if e.override_label is not None and e.override_label not in self.labels:
                excluded.add(e.graph)
            else:
                excluded.add(source)
        return excluded

    def entry(self, graph: str, type_name: str, name: str) -> JoinField | None:
        for e in self.sg.field_entries(type_name, name):
            if e.graph == graph:
                return e
        return None

    def resolvable(
        self, graph: str, type_name: str, name: str, provided: list[CSelection] | None
    ) -> bool:
        if name == "__typename":
            return True
        if provided and any(
            k == name or cfs[0].name == name for k, cfs in self.collect_fields(provided, type_name)
        ):
            return True
        excluded = self._excluded_by_override(type_name, name)
        for e in self.sg.field_entries(type_name, name):
            if e.graph != graph or graph in excluded:
                continue
            if e.external or e.used_overridden:
                continue
            return True
        return False

    def provided_for_child(
        self, graph: str, type_name: str, name: str, provided: list[CSelection] | None
    ) -> list[CSelection] | None:
        e = self.entry(graph, type_name, name)
        out: list[CSelection] = []
        if e is not None and e.provides:
            out.extend(self.fieldset(e.provides))
        if provided:
            for _k, cfs in self.collect_fields(provided, type_name):
                if cfs[0].name == name:
                    out.extend(self.merged_sub(cfs))
        return out or None

    def position_type(self, graph: str, type_name: str, name: str) -> str:
        """The named type of a field as the subgraph declares it (it may be narrower)."""
        e = self.entry(graph, type_name, name)
        if e is not None and e.type:
            named = e.type.strip("[]! ")
            if named in self.sg.schema.type_map:
                return named
        return self.field_type(type_name, name)

    def subgraph_field_type(self, graph: str, type_name: str, name: str) -> str:
        e = self.entry(graph, type_name, name)
        if e is not None and e.type:
            return str(e.type)
        t = self.sg.schema.type_map.get(type_name)
        fdef = (
            t.fields.get(name) if isinstance(t, GraphQLObjectType | GraphQLInterfaceType) else None
        )
        return str(fdef.type) if fdef is not None else ""

    def requires_of(self, graph: str, type_name: str, name: str) -> str | None:
        e = self.entry(graph, type_name, name)
        return e.requires if e is not None else None

    def jumps(self, type_name: str, name: str) -> list[Jump]:
        """Ways to resolve `type_name.name` by an entity fetch."""
        out: list[Jump] = []
        info = self.sg.types.get(type_name)
        if info is not None:
            for graph, keys in info.keys.items():
                if not self.resolvable(graph, type_name, name, None):
                    continue
                for key in keys:
                    if key.resolvable:
                        out.append(
                            Jump(graph, type_name, key, self.requires_of(graph, type_name, name))
                        )
        t = self.sg.schema.type_map.get(type_name)
        if isinstance(t, GraphQLObjectType):
            for iface in t.interfaces:
                ii = self.sg.types.get(iface.name)
                if ii is None:
                    continue
                for graph in ii.interface_object_in:
                    if not self.resolvable(graph, iface.name, name, None):
                        continue
                    for key in ii.keys.get(graph, []):
                        if key.resolvable:
                            out.append(
                                Jump(
                                    graph,
                                    iface.name,
                                    key,
                                    self.requires_of(graph, iface.name, name),
                                )
                            )
        return out

    # ------------------------------------------------------------------ cost model
    def local_cost(
        self,
        graph: str,
        type_name: str,
        name: str,
        cfs: list[CField],
        provided: list[CSelection] | None,
        stack: frozenset[tuple[str, str]],
    ) -> float:
        if name == "__typename":
            return 0
        if not self.resolvable(graph, type_name, name, provided):
            return INF
        if self.requires_of(graph, type_name, name) and not (
            provided
            and any(cfs2[0].name == name for _k, cfs2 in self.collect_fields(provided, type_name))
        ):
            return INF
        ftype = self.position_type(graph, type_name, name)
        if not self.sg.is_composite(ftype):
            return 0
        child_provided = self.provided_for_child(graph, type_name, name, provided)
        return self.selection_cost(graph, ftype, self.merged_sub(cfs), child_provided)

    def selection_cost(
        self,
        graph: str,
        type_name: str,
        selections: list[CSelection],
        provided: list[CSelection] | None,
        stack: frozenset[tuple[str, str]] = frozenset(),
    ) -> float:
        """Extra fetches needed to resolve `selections` on objects fetched from `graph`."""
        memo_key = (graph, type_name, id(selections), id(provided))
        cached = self._memo.get(memo_key)
        if cached is not None:
            return cached[0]
        # (the selections are kept referenced so that their id stays unique)
        self._memo[memo_key] = (INF, selections, provided)  # costed again while open: a cycle
        if self.sg.is_abstract(type_name):
            info = self.sg.type_info(type_name)
            if graph in info.interface_object_in:
                cost = self.object_cost(
                    graph, type_name, self.collect_fields(selections, type_name), provided
                ) + (1 if self._needs_concrete(type_name, selections) else 0)
            else:
                cost = 0.0
                for t in self.sg.possible_types_in_graph(type_name, graph):
                    cost += self.object_cost(graph, t, self.collect_fields(selections, t), provided)
        else:
            cost = self.object_cost(
                graph, type_name, self.collect_fields(selections, type_name), provided
            )
        self._memo[memo_key] = (cost, selections, provided)
        return cost

    def object_cost(
        self,
        graph: str,
        type_name: str,
        fields: Fields,
        provided: list[CSelection] | None,
        stack: frozenset[tuple[str, str]] = frozenset(),
    ) -> float:
        """Cost at one position; `stack` holds the requirements being costed there."""
        total = 0.0
        chosen: set[str] = set()
        for _key, cfs in fields:
            name = cfs[0].name
            c = self.local_cost(graph, type_name, name, cfs, provided, stack)
            if c < INF:
                total += c
                continue
            best = INF
            best_graph = None
            for j in self.jumps(type_name, name):
                if j.graph == graph and not j.requires:
                    continue
                inner = self._cost_in_target(j, name, cfs, stack)
                extra = 0.0 if j.graph in chosen else 1.0
                if extra:
                    extra += self.requirement_cost(graph, type_name, j.key.fields, provided, stack)
                if j.requires:
                    extra += self.requirement_cost(graph, type_name, j.requires, provided, stack)
                if extra + inner < best:
                    best, best_graph = extra + inner, j.graph
            if best == INF:
                split = self.split(graph, type_name, cfs, provided, stack)
                if split is None:
                    return INF
                best = split[0]
            if best_graph is not None:
                chosen.add(best_graph)
            total += best
        return total

    def requirement_cost(
        self,
        graph: str,
        type_name: str,
        fieldset: str,
        provided: list[CSelection] | None,
        stack: frozenset[tuple[str, str]],
    ) -> float:
        marker = (graph + "|" + type_name, fieldset)
        if marker in stack or len(stack) > 8:
            return INF
        return self.object_cost(
            graph,
            type_name,
            self.collect_fields(self.fieldset(fieldset), type_name),
            provided,
            stack | {marker},
        )

    def split(
        self,
        graph: str,
        type_name: str,
        cfs: list[CField],
        provided: list[CSelection] | None,
        stack: frozenset[tuple[str, str]],
    ) -> tuple[float, dict[str | Jump, list[CField]]] | None:
        """A field several subgraphs resolve, none of them with its whole sub-selection:
        assign each sub-field to the cheapest way in (here, or an entity jump)."""
        name = cfs[0].name
        ftype = self.field_type(type_name, name)
        if not self.sg.is_composite(ftype) or self.sg.is_abstract(ftype):
            return None
        options: list[str | Jump] = []
        if self.resolvable(graph, type_name, name, provided) and not self.requires_of(
            graph, type_name, name
        ):
            options.append(graph)
        for j in self.jumps(type_name, name):
            if j.graph != graph and not j.requires:
                options.append(j)
        if len(options) < 2:
            return None
        parts: dict[str | Jump, list[CField]] = {}
        total = 0.0
        for _k, sub_cfs in self.collect_fields(self.merged_sub(cfs), ftype):
            best: tuple[float, str | Jump] | None = None
            for opt in options:
                part = [CField(cfs[0].response_key, name, cfs[0].arguments, list(sub_cfs))]
                if isinstance(opt, str):
                    c = self.local_cost(opt, type_name, name, part, provided, stack)
                else:
                    c = self._cost_in_target(opt, name, part, stack)
                    if opt not in parts:
                        c += 1 + self.requirement_cost(
                            graph, type_name, opt.key.fields, provided, stack
                        )
                if best is None or c < best[0]:
                    best = (c, opt)
            if best is None or best[0] == INF:
                return None
            total += best[0]
            parts.setdefault(best[1], []).extend(sub_cfs)
        return total, parts

    def _cost_in_target(
        self, j: Jump, name: str, cfs: list[CField], stack: frozenset[tuple[str, str]]
    ) -> float:
        # besides the fetch count, a jump costs a little per field it moves (a tie-breaker
        # favouring plans that fetch less through entity calls)
        size = 0.01 * _size(cfs)
        ftype = self.field_type(j.rep_type, name)
        if not self.sg.is_composite(ftype):
            return size
        child_provided = self.provided_for_child(j.graph, j.rep_type, name, None)
        return size + self.selection_cost(j.graph, ftype, self.merged_sub(cfs), child_provided)

    def _needs_concrete(self, iface: str, selections: list[CSelection]) -> bool:
        for s in selections:
            if isinstance(s, CField):
                if s.name == "__typename":
                    return True
            elif s.type_condition not in (None, iface) or self._needs_concrete(iface, s.selections):
                return True
        return False


def _concrete_part(iface: str, selections: list[CSelection]) -> list[CSelection]:
    """What only a subgraph that knows the concrete types can answer: `__typename` and the
    fragments on implementations (the interface's own fields are planned already)."""
    out: list[CSelection] = []
    for s in selections:
        if isinstance(s, CField):
            if s.name == "__typename":
                out.append(s)
        elif s.type_condition in (None, iface):
            out.append(CFragment(s.type_condition, _concrete_part(iface, s.selections)))
        else:
            out.append(s)
    return out


def _conflicts(a: SelSet, b: SelSet) -> bool:
    """Whether two representation selections map one field name to different sources."""
    names = {(f.original_key or k): k for k, f in a.fields.items()}
    for k, f in b.fields.items():
        src = names.get(f.original_key or k)
        if src is not None and src != k:
            return True
        other = a.fields.get(k)
        if (
            other is not None
            and other.sub is not None
            and f.sub is not None
            and _conflicts(other.sub, f.sub)
        ):
            return True
    return False


def _alias_arguments(selections: list[CSelection]) -> list[CSelection]:
    out: list[CSelection] = []
    for s in selections:
        if isinstance(s, CField):
            key = s.response_key
            if s.arguments:
                key = f"{s.name}__{zlib.crc32(s.args_key().encode()):08x}"
            out.append(CField(key, s.name, s.arguments, _alias_arguments(s.selections)))
        else:
            out.append(CFragment(s.type_condition, _alias_arguments(s.selections)))
    return out


def _size(selections: list[CField] | list[CSelection]) -> int:
    n = 0
    for s in selections:
        n += 1 if isinstance(s, CField) else 0
        n += _size(s.selections)
    return n


def _split_deferred(
    selections: list[CSelection],
) -> tuple[list[CSelection], list[tuple[Defer, list[CSelection]]]]:
    """The selections planned at once, and each fragment deferred at this position with the
    selections to plan for it (under the type conditions of the fragments around it).
    Without deferred fragments the same list comes back."""
    if not _has_deferred(selections):
        return selections, []
    deferred: list[tuple[Defer, list[CSelection]]] = []

    def walk(sels: list[CSelection], conditions: tuple[str, ...]) -> list[CSelection]:
        out: list[CSelection] = []
        for s in sels:
            if isinstance(s, CField):
                out.append(s)
            elif s.defer is not None:
                inner: list[CSelection] = (
                    s.selections
                    if s.type_condition is None
                    else [CFragment(s.type_condition, s.selections)]
                )
                for tc in reversed(conditions):
                    inner = [CFragment(tc, inner)]
                deferred.append((s.defer, inner))
            else:
                own = s.type_condition
                out.append(
                    CFragment(own, walk(s.selections, (*conditions, own) if own else conditions))
                )
        return out

    return walk(selections, ()), deferred


def _has_deferred(selections: list[CSelection]) -> bool:
    return any(
        isinstance(s, CFragment) and (s.defer is not None or _has_deferred(s.selections))
        for s in selections
    )


@dataclass(frozen=True, eq=False)
class Position:
    """Where the planner stands in the operation: the fetch group that resolves the objects
    here and the subgraph selection set being filled for them, their type and response path,
    what the subgraph is known to provide here (@provides, @requires), and the deferred
    fragment being planned (None: the initial response)."""

    group: FetchGroup
    target: SelSet
    type_name: str
    path: tuple[PathStep, ...] = ()
    provided: list[CSelection] | None = None
    defer: Defer | None = None

    @property
    def graph(self) -> str:
        return self.group.graph

    def at(self, **changes: Any) -> Position:
        return replace(self, **changes)


class _PlanBuilder:
    """Builds the fetch groups of one operation."""

    def __init__(self, planner: QueryPlanner, kind: str) -> None:
        self.p = planner
        self.sg = planner.sg
        self.kind = kind
        self.groups: list[FetchGroup] = []
        # (subgraph, path, deferred fragment) -> the entity fetches there
        self.entity_index: dict[
            tuple[str, tuple[PathStep, ...], Defer | None], list[FetchGroup]
        ] = {}
        # (group id, path) -> other subgraphs that share the field at that position
        self.shared: dict[tuple[int, tuple[PathStep, ...]], frozenset[str]] = {}
        self._requiring: set[tuple[int, tuple[PathStep, ...], str, str, str, str]] = set()

    def new_group(
        self,
        graph: str,
        entity: bool,
        path: tuple[PathStep, ...] = (),
        defer: Defer | None = None,
    ) -> FetchGroup:
        g = FetchGroup(
            id=len(self.groups),
            graph=graph,
            subgraph=self.sg.graph_name(graph),
            entity=entity,
            operation_kind="query" if entity else self.kind,
            path=path,
            defer=defer,
        )
        self.groups.append(g)
        return g

    def depends_on(self, a: FetchGroup, b: FetchGroup) -> bool:
        """True when `a` (transitively) depends on `b`."""
        seen: set[int] = set()
        todo = [a.id]
        while todo:
            gid = todo.pop()
            if gid == b.id:
                return True
            if gid in seen:
                continue
            seen.add(gid)
            todo.extend(self.groups[gid].deps)
        return False

    def entity_group(
        self,
        pos: Position,
        graph: str,
        producers: set[FetchGroup],
        rep_type: str | None = None,
        rep: SelSet | None = None,
    ) -> FetchGroup:
        """An entity fetch to `graph` for the objects at the position: an existing one (of
        the same increment) when joining it creates no dependency cycle and no conflicting
        representation, else a new one."""
        key = (graph, pos.path, pos.defer)
        for g in self.entity_index.get(key, []):
            if any(p is g or self.depends_on(p, g) for p in producers):
                continue
            existing = g.reps.get(rep_type) if rep_type is not None else None
            if existing is not None and rep is not None and _conflicts(existing, rep):
                continue  # the same field with other arguments: needs its own fetch
            return g
        g = self.new_group(graph, True, pos.path, pos.defer)
        self.entity_index.setdefault(key, []).append(g)
        return g

    # ---------------------------------------------------------------------- planning
    def plan_object(self, pos: Position, fields: Fields) -> set[FetchGroup]:
        producers: set[FetchGroup] = {pos.group}
        for key, cfs in fields:
            name = cfs[0].name
            if name == "__typename":
                pos.target.add_typename()
                continue
            if name in ("__schema", "__type"):
                continue
            stay = self.p.local_cost(pos.graph, pos.type_name, name, cfs, pos.provided, frozenset())
            if stay < INF:
                producers |= self._plan_local(pos, key, cfs)
                continue
            producers |= self.plan_jump(pos, key, cfs)
        return producers

    def _plan_local(self, pos: Position, key: str, cfs: list[CField]) -> set[FetchGroup]:
        cf = cfs[0]
        group, type_name = pos.group, pos.type_name
        ftype = self.p.position_type(group.graph, type_name, cf.name)
        composite = self.sg.is_composite(ftype)
        sf = pos.target.add_field(key, cf.name, cf.arguments, composite)
        if not composite or sf.sub is None:
            return {group}
        child_provided = self.p.provided_for_child(group.graph, type_name, cf.name, pos.provided)
        child_path = (*pos.path, (key, type_name))
        shared = self._shared_with(group, type_name, cf.name, pos.path)
        if shared:
            self.shared[(group.id, child_path)] = shared
        child = pos.at(target=sf.sub, type_name=ftype, path=child_path, provided=child_provided)
        return self.plan_selection(child, self.p.merged_sub(cfs))

    def _shared_with(
        self, group: FetchGroup, type_name: str, name: str, path: tuple[PathStep, ...]
    ) -> frozenset[str]:
        """The other subgraphs that could have answered this field at this position (it is
        shareable and they can be reached here). Abstract types below it keep only the
        implementations every one of them knows, so the answer does not depend on which
        subgraph the plan happened to pick."""
        inherited = self.shared.get((group.id, path), frozenset())
        info = self.sg.types.get(type_name)
        reachable = set(inherited)
        if type_name in (self.sg.query_type, self.sg.mutation_type) or (info and info.keys):
            reachable |= {
                g
                for g, keys in (info.keys.items() if info else ())
                if any(k.resolvable for k in keys)
            }
            if type_name in (self.sg.query_type, self.sg.mutation_type):
                reachable |= self.sg.graphs_of_type(type_name)
        return frozenset(
            g for g in reachable if g != group.graph and self.p.resolvable(g, type_name, name, None)
        )

    def plan_selection(self, pos: Position, selections: list[CSelection]) -> set[FetchGroup]:
        """Plan a selection at a position; its deferred fragments get fetches of their own
        (which are not producers of anything at this position)."""
        selections, deferred = _split_deferred(selections)
        producers = self._plan_selection(pos, selections)
        for defer, sels in deferred:
            self._plan_deferred(pos.at(defer=defer), sels)
        return producers

    def _plan_selection(self, pos: Position, selections: list[CSelection]) -> set[FetchGroup]:
        type_name = pos.type_name
        if not self.sg.is_abstract(type_name):
            return self.plan_object(pos, self.p.collect_fields(selections, type_name))
        graph = pos.graph
        info = self.sg.type_info(type_name)
        pos.target.add_typename()
        producers: set[FetchGroup] = {pos.group}
        if graph in info.interface_object_in:
            # The subgraph knows the interface only as an object: resolve what it can,
            # and learn the concrete type from a subgraph that has the real interface.
            iface_fields = [
                (k, cfs)
                for k, cfs in self.p.collect_fields(
                    [
                        s
                        for s in selections
                        if isinstance(s, CField) or s.type_condition in (None, type_name)
                    ],
                    type_name,
                )
                if cfs[0].name != "__typename"
            ]
            producers |= self.plan_object(pos, iface_fields)
            if self.p._needs_concrete(type_name, selections):
                concrete = _concrete_part(type_name, selections)
                producers |= self._resolve_concrete(pos, concrete)
            return producers
        possible = self._possible_types(pos)
        if not possible:
            # no implementation is known here: the interface's own fields must still be
            # resolvable (or the operation cannot be planned)
            fields = [
                (k, cfs)
                for k, cfs in self.p.collect_fields(selections, type_name)
                if cfs[0].name != "__typename"
            ]
            return producers | self.plan_object(pos, fields)
        for t in possible:
            fields = self.p.collect_fields(selections, t)
            if not fields:
                continue
            producers |= self.plan_object(
                pos.at(target=pos.target.fragment(t), type_name=t), fields
            )
        self._alias_conflicts(graph, pos.target)
        return producers

    def _possible_types(self, pos: Position) -> list[str]:
        """The implementations of the abstract type at the position that its subgraph (and
        every other subgraph sharing the field above) knows."""
        possible = self.sg.possible_types_in_graph(pos.type_name, pos.graph)
        for other in self.shared.get((pos.group.id, pos.path), ()):
            known = set(self.sg.possible_types_in_graph(pos.type_name, other))
            possible = [t for t in possible if t in known]
        return possible

    def _alias_conflicts(self, graph: str, target: SelSet) -> None:
        """Fields of one response key must have one shape in a selection set, even across
        fragments on different types; alias those whose subgraph types differ."""
        seen: dict[str, str] = {}
        for tc, frag in target.fragments.items():
            for key, f in list(frag.fields.items()):
                if f.name == "__typename":
                    continue
                ftype = self.p.subgraph_field_type(graph, tc, f.name)
                first = seen.setdefault(key, ftype)
                if first != ftype:
                    alias = f"{key}__{tc}"
                    del frag.fields[key]
                    f.original_key, f.response_key = key, alias
                    frag.fields[alias] = f

    def _resolve_concrete(self, pos: Position, selections: list[CSelection]) -> set[FetchGroup]:
        iface = pos.type_name
        info = self.sg.type_info(iface)
        for graph, keys in info.keys.items():
            if graph in info.interface_object_in:
                continue
            for key in keys:
                if not key.resolvable:
                    continue
                req = self.plan_object(
                    pos, self.p.collect_fields(self.p.fieldset(key.fields), iface)
                )
                child = self.entity_group(pos, graph, req)
                child.deps |= {p.id for p in req}
                child.reps.setdefault(iface, SelSet()).merge(self._selset(key.fields, iface))
                frag = child.selection.fragment(iface)
                self.plan_selection(
                    Position(child, frag, iface, pos.path, None, pos.defer), selections
                )
                return req | {child}
        raise PlanningError(f"no subgraph can resolve the concrete type of '{iface}'")

    def _selset(self, fieldset: str, type_name: str) -> SelSet:
        out = SelSet()
        self._fill(out, self.p.requirement(fieldset), type_name)
        return out

    def _fill(self, out: SelSet, selections: list[CSelection], type_name: str) -> None:
        for s in selections:
            if isinstance(s, CField):
                ftype = (
                    self.sg.field_type_name(type_name, s.name) if s.name != "__typename" else None
                )
                composite = ftype is not None and self.sg.is_composite(ftype)
                sf = out.add_field(s.response_key, s.name, s.arguments, composite)
                if s.response_key != s.name:
                    sf.original_key = s.name  # the representation carries the field's name
                if composite and sf.sub is not None and ftype is not None:
                    if self.sg.is_abstract(ftype):
                        sf.sub.add_typename()
                    self._fill(sf.sub, s.selections, ftype)
            else:
                tc = s.type_condition or type_name
                self._fill(out.fragment(tc) if tc != type_name else out, s.selections, tc)

    def plan_jump(self, pos: Position, key: str, cfs: list[CField]) -> set[FetchGroup]:
        name = cfs[0].name
        group, type_name, provided = pos.group, pos.type_name, pos.provided
        best: tuple[float, Jump] | None = None
        existing = {
            graph
            for (graph, pth, defer), gs in self.entity_index.items()
            if pth == pos.path and defer is pos.defer and gs
        }
        for j in self.p.jumps(type_name, name):
            if j.graph == group.graph and not j.requires:
                continue
            cost = self.p._cost_in_target(j, name, cfs, frozenset())
            # the key fields are needed even when a fetch to that subgraph exists already
            cost += self.p.requirement_cost(
                group.graph, type_name, j.key.fields, provided, frozenset()
            )
            if j.graph not in existing:
                cost += 1
            if j.requires:
                cost += self.p.requirement_cost(
                    group.graph, type_name, j.requires, provided, frozenset()
                )
            if best is None or cost < best[0]:
                best = (cost, j)
        if best is None or best[0] == INF:
            split = self.p.split(group.graph, type_name, cfs, provided, frozenset())
            if split is None:
                raise PlanningError(
                    f"Cannot plan field '{type_name}.{name}': no subgraph can resolve it "
                    f"from '{group.subgraph}'."
                )
            producers: set[FetchGroup] = {group}
            cf = cfs[0]
            for opt, sub_cfs in split[1].items():
                part = [CField(cf.response_key, name, cf.arguments, list(sub_cfs), cf.directives)]
                if isinstance(opt, str):
                    producers |= self._plan_local(pos, key, part)
                else:
                    producers |= self._jump_to(pos, key, part, opt)
            return producers
        return self._jump_to(pos, key, cfs, best[1])

    def _jump_to(self, pos: Position, key: str, cfs: list[CField], j: Jump) -> set[FetchGroup]:
        # a key whose fields can only come through the jump being planned is a cycle
        marker = (pos.group.id, pos.path, pos.type_name, j.graph, j.key.fields, cfs[0].name)
        if marker in self._requiring:
            raise PlanningError(
                f"Cannot plan '{pos.type_name}': its key fields ({j.key.fields}) cannot be "
                f"fetched from '{pos.group.subgraph}'."
            )
        self._requiring.add(marker)
        try:
            return self._plan_jump_to(pos, key, cfs, j)
        finally:
            self._requiring.discard(marker)

    def _plan_jump_to(self, pos: Position, key: str, cfs: list[CField], j: Jump) -> set[FetchGroup]:
        type_name = pos.type_name
        pos.target.add_typename()
        req_fields = self.p.collect_fields(self.p.requirement(j.key.fields), type_name)
        producers = self.plan_object(pos, req_fields)
        if j.requires:
            producers |= self.plan_object(
                pos, self.p.collect_fields(self.p.requirement(j.requires), type_name)
            )
        new_rep = self._selset(j.key.fields, type_name)
        if j.requires:
            new_rep.merge(self._selset(j.requires, type_name))
        child = self.entity_group(pos, j.graph, producers, j.rep_type, new_rep)
        child.deps |= {p.id for p in producers}
        child.reps.setdefault(j.rep_type, SelSet()).merge(new_rep)
        frag = child.selection.fragment(j.rep_type)
        child_provided: list[CSelection] | None = None
        if j.requires:
            child_provided = self.p.fieldset(j.requires)
        at_child = Position(child, frag, j.rep_type, pos.path, child_provided, pos.defer)
        return producers | self._plan_in_child(at_child, key, cfs)

    def _plan_in_child(self, pos: Position, key: str, cfs: list[CField]) -> set[FetchGroup]:
        name = cfs[0].name
        if self.p.resolvable(pos.graph, pos.type_name, name, None):
            # a @requires field is resolved here with the required fields in the representation
            return self._plan_local(pos.at(provided=None), key, cfs)
        return self.plan_object(pos, [(key, cfs)])

    # ------------------------------------------------------------------ deferred fragments
    def _plan_deferred(self, pos: Position, selections: list[CSelection]) -> None:
        """A fragment deferred at a (non-root) position: each field through an entity fetch
        of its own (to the subgraph that resolves it best, possibly the parent's own), whose
        key fields the parent's fetch adds. A field that no entity fetch reaches (the type
        has no key) comes with the parent's fetch and is only delivered later."""
        type_name = pos.type_name
        if not self.sg.is_abstract(type_name):
            self._plan_deferred_fields(pos, self.p.collect_fields(selections, type_name))
            return
        if pos.graph in self.sg.type_info(type_name).interface_object_in:
            self._plan_selection(pos, selections)
            return
        pos.target.add_typename()
        for t in self._possible_types(pos):
            fields = self.p.collect_fields(selections, t)
            if fields:
                self._plan_deferred_fields(
                    pos.at(target=pos.target.fragment(t), type_name=t), fields
                )
        self._alias_conflicts(pos.graph, pos.target)

    def _plan_deferred_fields(self, pos: Position, fields: Fields) -> None:
        for key, cfs in fields:
            name = cfs[0].name
            if name == "__typename":
                pos.target.add_typename()
                continue
            if name in ("__schema", "__type"):
                continue
            jump = self._deferred_jump(pos, cfs)
            if jump is None:
                self.plan_object(pos, [(key, cfs)])
            else:
                self._jump_to(pos, key, cfs, jump)

    def _deferred_jump(self, pos: Position, cfs: list[CField]) -> Jump | None:
        """The cheapest entity fetch that resolves a deferred field (its own subgraph
        included), or None."""
        name = cfs[0].name
        best: tuple[float, Jump] | None = None
        for j in self.p.jumps(pos.type_name, name):
            cost = self.p._cost_in_target(j, name, cfs, frozenset())
            cost += self.p.requirement_cost(
                pos.graph, pos.type_name, j.key.fields, pos.provided, frozenset()
            )
            if j.requires:
                cost += self.p.requirement_cost(
                    pos.graph, pos.type_name, j.requires, pos.provided, frozenset()
                )
            if best is None or cost < best[0]:
                best = (cost, j)
        return best[1] if best is not None and best[0] < INF else None

    # -------------------------------------------------------------------------- roots
    def _plan_split_root(
        self,
        root_type: str,
        key: str,
        cfs: list[CField],
        graphs: list[str],
        root_groups: dict[str, FetchGroup],
        defer: Defer | None,
    ) -> bool:
        """A shareable root field no single subgraph completes: ask each subgraph for the
        part of the sub-selection it resolves and merge the answers."""
        cf = cfs[0]
        ftype = self.p.field_type(root_type, cf.name)
        if self.sg.is_abstract(ftype) or not self.sg.is_composite(ftype):
            return False
        parts: dict[str, list[CSelection]] = {}
        for _sub_key, sub_cfs in self.p.collect_fields(self.p.merged_sub(cfs), ftype):
            best: tuple[float, str] | None = None
            for graph in graphs:
                c = self.p.local_cost(graph, ftype, sub_cfs[0].name, sub_cfs, None, frozenset())
                if graph in parts:
                    c -= 0.5
                if best is None or c < best[0]:
                    best = (c, graph)
            if best is None or best[0] == INF:
                return False
            parts.setdefault(best[1], []).extend(sub_cfs)
        for graph, sels in parts.items():
            group = root_groups.get(graph) or root_groups.setdefault(
                graph, self.new_group(graph, False, (), defer)
            )
            part = CField(cf.response_key, cf.name, cf.arguments, list(sels), cf.directives)
            self._plan_local(
                Position(group, group.selection, root_type, (), None, defer), key, [part]
            )
        return True

    def plan_root(
        self, root_type: str, selections: list[CSelection], defer: Defer | None = None
    ) -> list[str]:
        """Plan the root fields; a fragment deferred here gets root fetches of its own, which
        start at once beside the others."""
        selections, deferred = _split_deferred(selections)
        introspection: list[str] = []
        root_groups: dict[str, FetchGroup] = {}
        previous: list[FetchGroup] = []
        for key, cfs in self.p.collect_fields(selections, root_type):
            name = cfs[0].name
            if name == "__typename":
                continue
            if name in ("__schema", "__type"):
                introspection.append(key)
                continue
            best: tuple[float, str] | None = None
            graphs = sorted(
                {e.graph for e in self.sg.field_entries(root_type, name) if e.graph is not None}
            )
            for graph in graphs:
                c = self.p.local_cost(graph, root_type, name, cfs, None, frozenset())
                if self.kind == "query" and graph in root_groups and c < INF:
                    c -= 0.5  # joining an existing fetch saves a request
                if best is None or c < best[0]:
                    best = (c, graph)
            if (
                (best is None or best[0] == INF)
                and self.kind == "query"
                and len(graphs) > 1
                and self._plan_split_root(root_type, key, cfs, graphs, root_groups, defer)
            ):
                continue
            if best is None or best[0] == INF:
                raise PlanningError(f"Cannot plan root field '{root_type}.{name}'.")
            graph = best[1]
            if self.kind == "mutation":
                before = len(self.groups)
                group = self.new_group(graph, False, (), defer)
                group.deps |= {g.id for g in previous}
                self._plan_local(
                    Position(group, group.selection, root_type, (), None, defer), key, cfs
                )
                previous = self.groups[before:]
            else:
                group = root_groups.get(graph) or root_groups.setdefault(
                    graph, self.new_group(graph, False, (), defer)
                )
                self._plan_local(
                    Position(group, group.selection, root_type, (), None, defer), key, cfs
                )
        for inner, sels in deferred:
            introspection += self.plan_root(root_type, sels, inner)
        return introspection


def plan_operation(
    planner: QueryPlanner,
    op: OperationDefinitionNode,
    selections: list[CSelection],
) -> Plan:
    sg = planner.sg
    kind = op.operation.value
    if kind == "mutation":
        root = sg.mutation_type
    elif kind == "subscription":
        root = sg.subscription_type
    else:
        root = sg.query_type
    if root is None:
        raise PlanningError(f"The schema does not support {kind} operations.")
    planner._memo = {}
    builder = _PlanBuilder(planner, kind)
    introspection = builder.plan_root(root, selections)
    var_types = {
        v.variable.name.value: print_ast(v.type)
        + (f" = {print_ast(v.default_value)}" if v.default_value is not None else "")
        for v in op.variable_definitions or ()
    }
    groups = [g for g in builder.groups if not (g.entity and g.selection.is_empty())]
    for g in groups:
        g.finalize(var_types)
    return Plan(
        groups=groups,
        batches=batch_groups(groups, var_types),
        root_type=root,
        operation_kind=kind,
        selections=selections,
        introspection_fields=introspection,
    )
