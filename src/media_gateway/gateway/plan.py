"""Query plans: fetch groups, the subgraph selections they send, and how plans print.

A plan is a set of fetch groups forming a DAG. A root group sends a normal operation to one
subgraph; an entity group collects the objects found at its path in the response so far,
turns them into representations and sends one `_entities` request. A group runs when every
group it depends on has finished; independent groups run concurrently. A group planned for a
deferred fragment (`defer`) fills that fragment's increment; it starts as soon as what it
depends on has finished, never waiting for the initial response.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import ArgumentNode, ObjectValueNode, VariableNode, print_ast
from graphql.language import ListValueNode, ValueNode

from .operation import Defer

# (response key, type condition of the object the key is read from)
PathStep = tuple[str, str | None]


class SelSet:
    """A selection set under construction for a subgraph operation."""

    __slots__ = ("fields", "fragments")

    def __init__(self) -> None:
        self.fields: dict[str, SField] = {}
        self.fragments: dict[str, SelSet] = {}

    def add_field(
        self, response_key: str, name: str, arguments: tuple[ArgumentNode, ...], composite: bool
    ) -> SField:
        existing = self.fields.get(response_key)
        if existing is not None:
            if composite and existing.sub is None:
                existing.sub = SelSet()
            return existing
        sf = SField(response_key, name, arguments, SelSet() if composite else None)
        self.fields[response_key] = sf
        return sf

    def add_typename(self) -> None:
        if "__typename" not in self.fields:
            self.fields["__typename"] = SField("__typename", "__typename", (), None)

    def fragment(self, type_condition: str) -> SelSet:
        frag = self.fragments.get(type_condition)
        if frag is None:
            frag = self.fragments[type_condition] = SelSet()
        return frag

    def is_empty(self) -> bool:
        return not self.fields and all(f.is_empty() for f in self.fragments.values())

    def has_aliases(self) -> bool:
        for f in self.fields.values():
            if f.original_key is not None or (f.sub is not None and f.sub.has_aliases()):
                return True
        return any(frag.has_aliases() for frag in self.fragments.values())

    def restore_aliases(self, value: Any) -> None:
        """Rename privately aliased fields of a subgraph result back to the client's keys."""
        if isinstance(value, list):
            for item in value:
                self.restore_aliases(item)
            return
        if not isinstance(value, dict):
            return
        for f in self.fields.values():
            if f.original_key is not None and f.response_key in value:
                value[f.original_key] = value.pop(f.response_key)
                key = f.original_key
            else:
                key = f.response_key
            if f.sub is not None and key in value:
                f.sub.restore_aliases(value[key])
        for frag in self.fragments.values():
            frag.restore_aliases(value)

    def merge(self, other: SelSet) -> None:
        for key, f in other.fields.items():
            mine = self.add_field(key, f.name, f.arguments, f.sub is not None)
            mine.original_key = mine.original_key or f.original_key
            if f.sub is not None and mine.sub is not None:
                mine.sub.merge(f.sub)
        for tc, frag in other.fragments.items():
            self.fragment(tc).merge(frag)

    def print(self, variables: set[str], indent: int = 1) -> str:
        pad = "  " * indent
        lines: list[str] = []
        for f in self.fields.values():
            head = f.name if f.response_key == f.name else f"{f.response_key}: {f.name}"
            if f.arguments:
                head += "(" + ", ".join(_print_arg(a, variables) for a in f.arguments) + ")"
            if f.sub is not None:
                if f.sub.is_empty():
                    f.sub.add_typename()
                head += " " + f.sub.print(variables, indent + 1)
            lines.append(pad + head)
        for tc, frag in self.fragments.items():
            if frag.is_empty():
                continue
            lines.append(f"{pad}... on {tc} " + frag.print(variables, indent + 1))
        return "{\n" + "\n".join(lines) + "\n" + "  " * (indent - 1) + "}"


@dataclass
class SField:
    response_key: str
    name: str
    arguments: tuple[ArgumentNode, ...]
    sub: SelSet | None
    # set when the field is sent under a private alias (the response key the client expects)
    original_key: str | None = None

    def is_empty(self) -> bool:
        return False


def _collect_vars(value: ValueNode, out: set[str]) -> None:
    if isinstance(value, VariableNode):
        out.add(value.name.value)
    elif isinstance(value, ListValueNode):
        for v in value.values:
            _collect_vars(v, out)
    elif isinstance(value, ObjectValueNode):
        for f in value.fields:
            _collect_vars(f.value, out)


def _print_arg(a: ArgumentNode, variables: set[str]) -> str:
    _collect_vars(a.value, variables)
    return f"{a.name.value}: {print_ast(a.value)}"


@dataclass(eq=False)
class FetchGroup:
    id: int
    graph: str  # join__Graph enum value
    subgraph: str  # subgraph name
    entity: bool
    operation_kind: str = "query"
    path: tuple[PathStep, ...] = ()
    selection: SelSet = field(default_factory=SelSet)
    # representation __typename -> fields each representation carries (keys, @requires)
    reps: dict[str, SelSet] = field(default_factory=dict)
    deps: set[int] = field(default_factory=set)
    # the deferred fragment whose increment this group fills (None: the initial response)
    defer: Defer | None = None
    # filled in by finalize()
    document: str = ""
    variable_names: tuple[str, ...] = ()
    has_aliases: bool = False

    def finalize(self, variable_definitions: dict[str, str]) -> None:
        self.has_aliases = self.selection.has_aliases()
        used: set[str] = set()
        if self.entity:
            body = self.selection.print(used, 2)
            var_defs = ["$representations: [_Any!]!"] + [
                f"${v}: {variable_definitions[v]}"
                for v in sorted(used)
                if v in variable_definitions
            ]
            self.document = (
                f"query({', '.join(var_defs)}) {{\n"
                f"  _entities(representations: $representations) {body}\n}}"
            )
        else:
            body = self.selection.print(used, 1)
            var_defs = [
                f"${v}: {variable_definitions[v]}"
                for v in sorted(used)
                if v in variable_definitions
            ]
            head = self.operation_kind
            if var_defs:
                head += "(" + ", ".join(var_defs) + ")"
            self.document = f"{head} {body}"
        self.variable_names = tuple(sorted(used))

    def path_text(self) -> str:
        return ".".join(k for k, _ in self.path)


@dataclass(eq=False)
class FetchBatch:
    """One subgraph request: a root operation, or the entity fetches of several groups that
    become ready at the same step, each under its own `_entities` alias."""

    id: int
    subgraph: str
    members: list[FetchGroup]
    deps: set[int]
    document: str
    variable_names: tuple[str, ...]
    # the response key of each member's `_entities` field, and its representations variable
    aliases: tuple[str, ...] = ("_entities",)
    rep_variables: tuple[str, ...] = ("representations",)

    @property
    def entity(self) -> bool:
        return self.members[0].entity

    @property
    def defer(self) -> Defer | None:
        return self.members[0].defer


def batch_groups(
    groups: list[FetchGroup], variable_definitions: dict[str, str]
) -> list[FetchBatch]:
    """Group the entity fetches that run at the same step against the same subgraph into one
    request. A group's step is one more than the latest step of what it depends on, so
    merging groups of one step never delays a group behind one it does not already wait for
    at that step, and never creates a cycle."""
    by_id = {g.id: g for g in groups}
    level: dict[int, int] = {}

    def level_of(g: FetchGroup) -> int:
        if g.id not in level:
            deps = [by_id[d] for d in g.deps if d in by_id]
            level[g.id] = 1 + max((level_of(d) for d in deps), default=-1)
        return level[g.id]

    # a deferred fragment's fetches never share a request with those of another increment
    buckets: dict[tuple[int, str, Defer | None], list[FetchGroup]] = {}
    order: list[tuple[int, str, Defer | None] | int] = []
    for g in groups:
        if g.entity:
            key = (level_of(g), g.graph, g.defer)
            if key not in buckets:
                buckets[key] = []
                order.append(key)
            buckets[key].append(g)
        else:
            order.append(g.id)
    batches: list[FetchBatch] = []
    batch_of: dict[int, int] = {}
    for item in order:
        members = [by_id[item]] if isinstance(item, int) else buckets[item]
        bid = len(batches)
        for m in members:
            batch_of[m.id] = bid
        if len(members) == 1:
            m = members[0]
            batch = FetchBatch(bid, m.subgraph, members, set(), m.document, m.variable_names)
        else:
            batch = _entity_batch(bid, members, variable_definitions)
        batches.append(batch)
    for batch in batches:
        for m in batch.members:
            batch.deps |= {batch_of[d] for d in m.deps if d in batch_of and batch_of[d] != batch.id}
    return batches


def _entity_batch(
    bid: int, members: list[FetchGroup], variable_definitions: dict[str, str]
) -> FetchBatch:
    used: set[str] = set()
    fields = []
    aliases = []
    rep_vars = []
    for k, m in enumerate(members):
        body = m.selection.print(used, 2)
        aliases.append(f"_{k}")
        rep_vars.append(f"representations{k}")
        fields.append(f"  _{k}: _entities(representations: $representations{k}) {body}")
    var_defs = [f"$representations{k}: [_Any!]!" for k in range(len(members))] + [
        f"${v}: {variable_definitions[v]}" for v in sorted(used) if v in variable_definitions
    ]
    document = f"query({', '.join(var_defs)}) {{\n" + "\n".join(fields) + "\n}"
    return FetchBatch(
        bid,
        members[0].subgraph,
        members,
        set(),
        document,
        tuple(sorted(used)),
        tuple(aliases),
        tuple(rep_vars),
    )


@dataclass
class Plan:
    groups: list[FetchGroup]
    # the client's normalized selections and root type, used to shape the response
    root_type: str
    operation_kind: str
    selections: list[Any]
    introspection_fields: list[str] = field(default_factory=list)
    # reused by the response shaper across requests
    shape_cache: dict[tuple[int, str], Any] = field(default_factory=dict)
    batches: list[FetchBatch] = field(default_factory=list)
    # authorization: the selected fields carrying requirements (computed on first use), the
    # fields this plan leaves out, and the plans for each set of denied fields
    secured: dict[tuple[str, str], Any] | None = None
    denied: dict[tuple[str, str], str] = field(default_factory=dict)
    variants: dict[frozenset[Any], Plan] = field(default_factory=dict)
    # where `selections` defers fragments and streams lists (incremental.py; first use)
    delivery: Any = None

    def to_text(self) -> str:
        lines = ["QueryPlan {"]
        for b in self.batches:
            deps = f" after [{', '.join(str(d) for d in sorted(b.deps))}]" if b.deps else ""
            deps += _deferred_text(b.defer)
            if b.entity:
                paths = ", ".join(f'"{m.path_text()}"' for m in b.members)
                head = f'Fetch #{b.id} Entity(service: "{b.subgraph}") path {paths}{deps} {{'
            else:
                head = f'Fetch #{b.id} Root(service: "{b.subgraph}"){deps} {{'
            lines.append("  " + head)
            for line in b.document.splitlines():
                lines.append("    " + line)
            lines.append("  }")
        lines.append("}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        fetches: list[dict[str, Any]] = []
        for b in self.batches:
            fetch: dict[str, Any] = {
                "id": b.id,
                "service": b.subgraph,
                "kind": "entity" if b.entity else "root",
                "paths": [[k for k, _ in m.path] for m in b.members],
                "dependsOn": sorted(b.deps),
                "operation": b.document,
            }
            if b.defer is not None:
                fetch["deferred"] = {"label": b.defer.label}
            fetches.append(fetch)
        return {"kind": "QueryPlan", "fetches": fetches}


def _deferred_text(defer: Defer | None) -> str:
    if defer is None:
        return ""
    return " deferred" + (f' "{defer.label}"' if defer.label is not None else "")
