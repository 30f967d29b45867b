"""Merging validated subgraphs into a supergraph.

The rules follow Apollo Federation 2 composition: object types take the union of their fields,
input types the intersection, enums depend on where they are used, field types merge to the
most general compatible type for outputs and the most specific for inputs, and every element
records which subgraphs define it through the ``join`` spec directives.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from graphql import ListTypeNode, NamedTypeNode, NonNullTypeNode, TypeNode

from .errors import CompositionError
from .model import (
    BUILTIN_DIRECTIVES,
    KIND_LABEL,
    Directive,
    DirectiveDef,
    EnumLiteral,
    EnumValue,
    Field,
    InputValue,
    TypeDef,
    TypeKind,
    base_name,
    make_directive,
    same_type,
    type_str,
    value_key,
)
from .subgraph import Subgraph
from .supergraph import GraphInfo, Supergraph

LATEST_FEDERATION_VERSION = (2, 12)
EXECUTABLE_LOCATIONS = frozenset(
    {
        "QUERY",
        "MUTATION",
        "SUBSCRIPTION",
        "FIELD",
        "FRAGMENT_DEFINITION",
        "FRAGMENT_SPREAD",
        "INLINE_FRAGMENT",
        "VARIABLE_DEFINITION",
    }
)
# federation directives whose applications are carried into the supergraph
MERGED_FEDERATION_DIRECTIVES = ("inaccessible", "tag", "authenticated", "requiresScopes", "policy")
# authorization directives and the spec that defines each in the supergraph
SECURITY_SPECS = {
    "authenticated": "https://specs.apollo.dev/authenticated/v0.1",
    "requiresScopes": "https://specs.apollo.dev/requiresScopes/v0.1",
    "policy": "https://specs.apollo.dev/policy/v0.1",
}
_LABEL_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_\-:./]*$")
_PERCENT_RE = re.compile(r"^percent\((\d{1,2}(\.\d{1,8})?|100)\)$")


def sanitize_graph_name(name: str) -> str:
    sanitized = re.sub(r"[^A-Za-z0-9_]", "_", name).upper()
    if not sanitized or not re.match(r"[A-Z_]", sanitized[0]):
        sanitized = "_" + sanitized
    return sanitized


def graph_enum_names(names: list[str]) -> dict[str, str]:
    by_sanitized: dict[str, list[str]] = {}
    for name in names:
        by_sanitized.setdefault(sanitize_graph_name(name), []).append(name)
    result: dict[str, str] = {}
    for sanitized, group in by_sanitized.items():
        if len(group) == 1:
            result[group[0]] = sanitized
        else:
            for i, name in enumerate(group):
                result[name] = f"{sanitized}_{i + 1}"
    return result


def join_version_for(fed_version: tuple[int, int]) -> tuple[int, int]:
    if fed_version >= (2, 8):
        return (0, 5)
    if fed_version >= (2, 7):
        return (0, 4)
    return (0, 3)


def print_subgraph_names(names: list[str]) -> str:
    quoted = [f'"{n}"' for n in names]
    if len(quoted) == 1:
        return f"subgraph {quoted[0]}"
    return "subgraphs " + ", ".join(quoted[:-1]) + " and " + quoted[-1]


@dataclass
class FieldMergeContext:
    used_overridden: set[int] = field(default_factory=set)
    unused_overridden: set[int] = field(default_factory=set)
    unknown_target: set[int] = field(default_factory=set)
    labels: dict[int, str] = field(default_factory=dict)


Sources = dict[int, Field | None]


class Merger:
    def __init__(self, subgraphs: list[Subgraph]) -> None:
        self.subs = subgraphs
        self.names = [s.name for s in subgraphs]
        self.enum_names = graph_enum_names(self.names)
        versions = [s.fed_version for s in subgraphs if s.fed_version is not None]
        self.fed_version = max(versions) if versions else LATEST_FEDERATION_VERSION
        self.join_version = join_version_for(self.fed_version)
        self.errors: list[CompositionError] = []
        self.hints: list[str] = []
        self.sg = Supergraph(
            join_version=self.join_version,
            graphs=[GraphInfo(self.enum_names[s.name], s.name, s.url) for s in subgraphs],
        )
        self.enum_usage: dict[str, str] = {}
        self.enum_examples: dict[str, dict[str, str]] = {}
        self.deferred: list[tuple[list[Directive], Callable[[], list[list[Directive]]]]] = []
        self.composed: dict[str, str] = {}  # supergraph directive name -> composed directive
        self.merged_directive_names: set[str] = set(MERGED_FEDERATION_DIRECTIVES)

    # -- helpers ---------------------------------------------------------------------------

    def graph(self, idx: int) -> EnumLiteral:
        return EnumLiteral(self.enum_names[self.names[idx]])

    def error(
        self,
        code: str,
        message: str,
        subgraphs: Iterable[str] = (),
        type_name: str | None = None,
        field_name: str | None = None,
    ) -> None:
        self.errors.append(CompositionError(code, message, tuple(subgraphs), type_name, field_name))

    def sources_of(self, dest: TypeDef) -> dict[int, TypeDef]:
        result: dict[int, TypeDef] = {}
        for i, sub in enumerate(self.subs):
            t = sub.types.get(dest.name)
            if t is not None and sub.merged_kind(t) == dest.kind:
                result[i] = t
        return result

    def mismatch_description(
        self, sources: dict[int, object], describe: Callable[[object], str | None]
    ) -> str:
        groups: dict[str, list[str]] = {}
        for idx, src in sources.items():
            if src is None:
                continue
            text = describe(src)
            if text is None:
                continue
            groups.setdefault(text, []).append(self.names[idx])
        parts = [f"{text} in {print_subgraph_names(names)}" for text, names in groups.items()]
        return " but ".join(parts) if len(parts) <= 2 else ", ".join(parts)

    # -- entry -----------------------------------------------------------------------------

    def merge(self) -> Supergraph:
        self.collect_composed_directives()
        self.add_types_shallow()
        if self.errors:
            return self.sg
        types = list(self.sg.types.values())
        for t in types:
            if t.kind in ("OBJECT", "INTERFACE"):
                self.merge_implements(t)
        for t in types:
            if t.kind == "UNION":
                self.merge_type(t)
        self.merge_roots()
        order: tuple[TypeKind, ...] = ("SCALAR", "INPUT_OBJECT", "INTERFACE", "OBJECT")
        for kind in order:
            for t in types:
                if t.kind == kind:
                    self.merge_type(t)
        self.merge_directive_definitions()
        for t in types:
            if t.kind == "ENUM":
                self.merge_type(t)
        for dest_list, compute in self.deferred:
            for group in compute():
                dest_list.extend(group)
        self.add_missing_interface_object_fields()
        self.finish_links()
        return self.sg

    # -- types -----------------------------------------------------------------------------

    def add_types_shallow(self) -> None:
        kinds: dict[str, dict[int, TypeKind]] = {}
        interface_objects: set[str] = set()
        for i, sub in enumerate(self.subs):
            for t in sub.types.values():
                kind = sub.merged_kind(t)
                if sub.is_interface_object(t):
                    interface_objects.add(t.name)
                kinds.setdefault(t.name, {})[i] = kind
                if t.name not in self.sg.types:
                    self.sg.types[t.name] = TypeDef(kind, t.name)
        for name, per_sub in kinds.items():
            if len(set(per_sub.values())) > 1:
                groups: dict[str, list[str]] = {}
                for i, kind in per_sub.items():
                    t = self.subs[i].types[name]
                    label = (
                        "Interface Object Type (Object Type with @interfaceObject)"
                        if self.subs[i].is_interface_object(t)
                        else KIND_LABEL[kind]
                    )
                    groups.setdefault(label, []).append(self.names[i])
                desc = " but ".join(
                    f"{label} in {print_subgraph_names(n)}" for label, n in groups.items()
                )
                self.error(
                    "TYPE_KIND_MISMATCH",
                    f'Type "{name}" has mismatched kind: it is defined as {desc}',
                    [self.names[i] for i in per_sub],
                    name,
                )
        for name in interface_objects:
            per_sub = kinds[name]
            if (
                not any(self.subs[i].types[name].kind == "INTERFACE" for i in per_sub)
                and len(set(per_sub.values())) == 1
            ):
                subs = [self.names[i] for i in per_sub]
                self.error(
                    "INTERFACE_OBJECT_USAGE_ERROR",
                    f'Type "{name}" is declared with @interfaceObject in all the subgraphs in '
                    f"which it is defined (it is defined in {print_subgraph_names(subs)} but "
                    "should be defined as an interface in at least one subgraph)",
                    subs,
                    name,
                )

    def merge_implements(self, dest: TypeDef) -> None:
        for idx, src in self.sources_of(dest).items():
            for itf in src.interfaces:
                if itf not in dest.interfaces:
                    dest.interfaces.append(itf)
                dest.directives.append(
                    make_directive("join__implements", graph=self.graph(idx), interface=itf)
                )

    def merge_roots(self) -> None:
        self.sg.roots["query"] = "Query"
        for op, name in (("mutation", "Mutation"), ("subscription", "Subscription")):
            if any(name in s.roots.values() for s in self.subs):
                self.sg.roots[op] = name

    def merge_type(self, dest: TypeDef) -> None:
        sources = self.sources_of(dest)
        self.check_extension_with_no_base(dest, sources)
        dest.description = self.merge_description(sources)
        self.add_join_type(dest, sources)
        self.record_directives(sources, dest.directives)
        if dest.kind == "OBJECT":
            self.merge_object(dest, sources)
        elif dest.kind == "INTERFACE":
            self.merge_interface(dest, sources)
        elif dest.kind == "UNION":
            self.merge_union(dest, sources)
        elif dest.kind == "ENUM":
            self.merge_enum(dest, sources)
        elif dest.kind == "INPUT_OBJECT":
            self.merge_input(dest, sources)

    def check_extension_with_no_base(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        if dest.kind == "OBJECT" and dest.name in ("Query", "Mutation", "Subscription"):
            return
        defined = [i for i, s in sources.items() if s.has_definition]
        extended = [i for i, s in sources.items() if s.has_extension]
        if extended and not defined:
            for i in extended:
                self.error(
                    "EXTENSION_WITH_NO_BASE",
                    f'[{self.names[i]}] Type "{dest.name}" is an extension type, but there is '
                    f'no type definition for "{dest.name}" in any subgraph.',
                    [self.names[i]],
                    dest.name,
                )

    def merge_description(self, sources: Mapping[int, object]) -> str | None:
        descriptions: list[str] = []
        counts: list[int] = []
        for src in sources.values():
            desc = getattr(src, "description", None)
            if desc is None:
                continue
            if desc in descriptions:
                counts[descriptions.index(desc)] += 1
            else:
                descriptions.append(desc)
                counts.append(-(10**9) if desc == "" else 1)
        if not descriptions:
            return None
        non_empty = [d for d in descriptions if d != ""]
        if len(descriptions) == 1:
            return descriptions[0]
        if len(non_empty) == 1:
            return non_empty[0]
        return descriptions[counts.index(max(counts))]

    def add_join_type(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        for idx, src in sources.items():
            sub = self.subs[idx]
            itf_obj = True if sub.is_interface_object(src) else None
            keys = src.fed_all("key")
            if not keys:
                dest.directives.append(
                    make_directive("join__type", graph=self.graph(idx), isInterfaceObject=itf_obj)
                )
                continue
            for key in keys:
                extension = True if key.on_extension or src.has_fed("extends") else None
                d = make_directive(
                    "join__type",
                    graph=self.graph(idx),
                    key=key.str_arg("fields"),
                    extension=extension,
                )
                resolvable = key.arg("resolvable")
                if resolvable is not None:
                    d.args["resolvable"] = resolvable
                if itf_obj:
                    d.args.update(make_directive("x", isInterfaceObject=True).args)
                dest.directives.append(d)

    # -- applied directives ----------------------------------------------------------------

    def is_merged_directive(self, d: Directive) -> bool:
        if d.federation:
            return d.name in self.merged_directive_names
        return d.name in BUILTIN_DIRECTIVES or d.name in self.composed

    def record_directives(self, sources: Mapping[int, object], dest: list[Directive]) -> None:
        """Carry @inaccessible now and the other merged directives at the end (as Apollo)."""
        per_source: list[list[Directive]] = [
            [d for d in getattr(s, "directives", []) if self.is_merged_directive(d)]
            for s in sources.values()
            if s is not None
        ]
        inaccessible = [
            [d for d in ds if d.federation and d.name == "inaccessible"] for ds in per_source
        ]
        if any(inaccessible):
            dest.append(make_directive("inaccessible"))
            self.sg.uses_inaccessible = True

        def compute() -> list[list[Directive]]:
            names: list[str] = []
            for ds in per_source:
                for d in ds:
                    if d.name != "inaccessible" and d.name not in names:
                        names.append(d.name)
            return [self.merge_applied(name, per_source) for name in names]

        self.deferred.append((dest, compute))

    def merge_applied(self, name: str, per_source: list[list[Directive]]) -> list[Directive]:
        apps = [d for ds in per_source for d in ds if d.name == name]
        if name == "tag":
            self.sg.uses_tag = True
        if name in SECURITY_SPECS:
            self.sg.security_directives.add(name)
        repeatable = name == "tag" or (
            name in self.sg.directive_defs and self.sg.directive_defs[name].repeatable
        )
        out_name = name
        if repeatable:
            result: list[Directive] = []
            for d in apps:
                if not any(r.same_as(Directive(out_name, d.args)) for r in result):
                    result.append(Directive(out_name, dict(d.args)))
            return result
        counts: Counter[str] = Counter(value_key(d.args) for d in apps)
        best = max(counts.values())
        for d in apps:
            if counts[value_key(d.args)] == best:
                return [Directive(out_name, dict(d.args))]
        return []

    # -- objects and interfaces ------------------------------------------------------------

    def add_fields_shallow(self, dest: TypeDef) -> dict[str, Sources]:
        extra: list[int] = []
        for i, sub in enumerate(self.subs):
            for itf in dest.interfaces:
                itf_type = sub.types.get(itf)
                if itf_type is not None and sub.is_interface_object(itf_type):
                    extra.append(i)
            if dest.name in sub.types:
                extra.append(i)
        added: dict[str, Sources] = {}
        for i, src in self.sources_of(dest).items():
            for f in src.fields.values():
                if f.name not in added:
                    added[f.name] = {j: None for j in sorted(set(extra))}
                    dest.fields[f.name] = Field(f.name, f.type, dest.name)
                added[f.name][i] = f
        return added

    def merge_object(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        added = self.add_fields_shallow(dest)
        if not added:
            del self.sg.types[dest.name]
            return
        for fname, field_sources in added.items():
            dest_field = dest.fields[fname]
            ctx = self.validate_override(field_sources, dest_field)
            self.merge_field(field_sources, dest_field, ctx)
            self.validate_field_sharing(field_sources, dest_field, ctx)

    def merge_interface(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        self.validate_interface_keys(dest, sources)
        self.validate_interface_objects(dest, sources)
        added = self.add_fields_shallow(dest)
        for fname, field_sources in added.items():
            dest_field = dest.fields[fname]
            ctx = self.validate_override(field_sources, dest_field)
            self.merge_field(field_sources, dest_field, ctx)

    def implementations(self, itf: str) -> list[TypeDef]:
        return [t for t in self.sg.types.values() if t.kind == "OBJECT" and itf in t.interfaces]

    def validate_interface_keys(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        impls = [t.name for t in self.implementations(dest.name)]
        for idx, src in sources.items():
            if src.kind != "INTERFACE":
                continue
            keys = src.fed_all("key")
            resolvable = next((k for k in keys if k.bool_arg("resolvable") is not False), None)
            if resolvable is None:
                continue
            in_sub = {t.name for t in self.subs[idx].implementations(dest.name)}
            missing = [t for t in impls if t not in in_sub]
            if missing:
                listed = ", ".join(f'"{m}"' for m in missing)
                self.error(
                    "INTERFACE_KEY_MISSING_IMPLEMENTATION_TYPE",
                    f'[{self.names[idx]}] Interface type "{dest.name}" has a resolvable key '
                    f'({resolvable.print()}) in subgraph "{self.names[idx]}" but that subgraph '
                    f"is missing some of the supergraph implementation types of "
                    f'"{dest.name}". Subgraph "{self.names[idx]}" should define {listed} (and '
                    f'have {"them" if len(missing) > 1 else "it"} implement "{dest.name}").',
                    [self.names[idx]],
                    dest.name,
                )

    def validate_interface_objects(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        impls = [t.name for t in self.implementations(dest.name)]
        for idx, src in sources.items():
            sub = self.subs[idx]
            if not sub.is_interface_object(src):
                continue
            defined = [t for t in impls if t in sub.types]
            if defined:
                listed = ", ".join(f'"{t}"' for t in defined)
                self.error(
                    "INTERFACE_OBJECT_USAGE_ERROR",
                    f'[{sub.name}] Interface type "{dest.name}" is defined as an '
                    f'@interfaceObject in subgraph "{sub.name}" so that subgraph should not '
                    f'define any of the implementation types of "{dest.name}", but it defines '
                    f"{listed}",
                    [sub.name],
                    dest.name,
                )

    def fields_abstracted_by_interface_object(self, dest: Field, idx: int) -> list[Field]:
        parent = self.sg.types.get(dest.parent)
        sub = self.subs[idx]
        if parent is None or parent.kind != "OBJECT" or parent.name in sub.types:
            return []
        result: list[Field] = []
        for itf in parent.interfaces:
            itf_def = self.sg.types.get(itf)
            if itf_def is None or dest.name not in itf_def.fields:
                continue
            in_sub = sub.types.get(itf)
            if in_sub is None or in_sub.kind != "OBJECT":
                continue
            f = in_sub.fields.get(dest.name)
            if f is not None:
                result.append(f)
        return result

    def is_external(self, idx: int, f: Field) -> bool:
        return self.subs[idx].is_external(f)

    def validate_override(self, sources: Sources, dest: Field) -> FieldMergeContext:
        ctx = FieldMergeContext()
        overrides: dict[str, tuple[int, Directive]] = {}
        present: dict[str, int] = {}
        abstracted: dict[str, list[Field]] = {}
        for idx, src in sources.items():
            name = self.names[idx]
            if src is None:
                fields = self.fields_abstracted_by_interface_object(dest, idx)
                if fields:
                    abstracted[name] = fields
                    present[name] = idx
                continue
            present[name] = idx
            d = src.fed("override") if self.subs[idx].fed2 else None
            if d is not None:
                overrides[name] = (idx, d)
        if not overrides:
            return ctx
        coord = dest.coordinate
        for name, (idx, d) in overrides.items():
            src = sources[idx]
            assert src is not None
            parent_def = self.subs[idx].types[src.parent]
            if parent_def.kind == "INTERFACE":
                self.error(
                    "OVERRIDE_ON_INTERFACE",
                    f'@override cannot be used on field "{coord}" on subgraph "{name}": '
                    "@override is not supported on interface type fields.",
                    [name],
                    dest.parent,
                    dest.name,
                )
                continue
            if self.subs[idx].is_interface_object(parent_def):
                self.error(
                    "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
                    f"@override is not yet supported on fields of @interfaceObject types: "
                    f'cannot be used on field "{coord}" on subgraph "{name}".',
                    [name],
                    dest.parent,
                    dest.name,
                )
                continue
            source_name = d.str_arg("from") or ""
            label = d.str_arg("label")
            if source_name not in self.names:
                ctx.unknown_target.add(idx)
                self.hints.append(
                    f'Source subgraph "{source_name}" for field "{coord}" on subgraph "{name}" '
                    "does not exist."
                )
            elif source_name == name:
                self.error(
                    "OVERRIDE_FROM_SELF_ERROR",
                    f'Source and destination subgraphs "{source_name}" are the same for '
                    f'overridden field "{coord}"',
                    [name],
                    dest.parent,
                    dest.name,
                )
            elif source_name in overrides:
                self.error(
                    "OVERRIDE_SOURCE_HAS_OVERRIDE",
                    f'Field "{coord}" on subgraph "{name}" is also marked with directive '
                    f'@override in subgraph "{source_name}". Only one @override directive is '
                    "allowed per field.",
                    [name, source_name],
                    dest.parent,
                    dest.name,
                )
            elif source_name not in present:
                self.hints.append(
                    f'Field "{coord}" on subgraph "{name}" no longer exists in the from '
                    "subgraph. The @override directive can be removed."
                )
            elif source_name in abstracted:
                self.error(
                    "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
                    f'Invalid @override on field "{coord}" of subgraph "{name}": source '
                    f'subgraph "{source_name}" does not have field "{coord}" but abstract it '
                    "in an @interfaceObject type and overriding abstracted fields is not "
                    "supported.",
                    [name, source_name],
                    dest.parent,
                    dest.name,
                )
            else:
                from_idx = present[source_name]
                from_field = sources[from_idx]
                assert from_field is not None
                conflict: tuple[str, str] | None = None
                for dname in ("requires", "provides"):
                    if from_field.has_fed(dname):
                        conflict = (dname, source_name)
                if self.is_external(idx, src):
                    conflict = ("external", name)
                if conflict is not None:
                    self.error(
                        "OVERRIDE_COLLISION_WITH_ANOTHER_DIRECTIVE",
                        f'@override cannot be used on field "{coord}" on subgraph "{name}" '
                        f'since "{coord}" on "{conflict[1]}" is marked with directive '
                        f'"@{conflict[0]}"',
                        [name, conflict[1]],
                        dest.parent,
                        dest.name,
                    )
                    continue
                if self.is_external(from_idx, from_field):
                    self.hints.append(
                        f'Field "{coord}" on subgraph "{name}" is not resolved anymore by the '
                        f'from subgraph (it is marked "@external" in "{source_name}"). The '
                        "@override directive can be removed."
                    )
                elif self.subs[from_idx].is_used(from_field):
                    ctx.used_overridden.add(from_idx)
                else:
                    ctx.unused_overridden.add(from_idx)
                if label is not None:
                    valid = bool(_LABEL_RE.match(label))
                    m = _PERCENT_RE.match(label)
                    if m is not None and 0 <= float(m.group(1)) <= 100:
                        valid = True
                    if valid:
                        ctx.labels[idx] = label
                        ctx.labels[from_idx] = label
                    else:
                        self.error(
                            "OVERRIDE_LABEL_INVALID",
                            f'Invalid @override label "{label}" on field "{coord}" on '
                            f'subgraph "{name}": labels must start with a letter and after '
                            "that may contain alphanumerics, underscores, minuses, colons, "
                            "periods, or slashes. Alternatively, labels may be of the form "
                            '"percent(x)" where x is a float between 0-100 inclusive.',
                            [name],
                            dest.parent,
                            dest.name,
                        )
        return ctx

    def merge_field(self, sources: Sources, dest: Field, ctx: FieldMergeContext) -> None:
        every_external = True
        for idx, src in sources.items():
            if src is None:
                every_external = all(
                    self.is_external(idx, f)
                    for f in self.fields_abstracted_by_interface_object(dest, idx)
                )
            else:
                every_external = self.is_external(idx, src)
            if not every_external:
                break
        if every_external:
            defining = [self.names[i] for i, s in sources.items() if s is not None]
            self.error(
                "EXTERNAL_MISSING_ON_BASE",
                f'Field "{dest.coordinate}" is marked @external on all the subgraphs in which '
                f"it is listed ({print_subgraph_names(defining)}).",
                defining,
                dest.parent,
                dest.name,
            )
            return
        without_external: Sources = {
            i: (None if s is not None and self.is_external(i, s) else s) for i, s in sources.items()
        }
        defined = {i: s for i, s in without_external.items() if s is not None}
        if defined:
            dest.description = self.merge_description(defined)
            self.record_directives(defined, dest.directives)
            self.merge_arguments(defined, dest)
        all_equal = self.merge_type_reference(
            defined or {i: s for i, s in sources.items() if s is not None},
            dest,
            is_input=False,
        )
        if any(s is not None and self.is_external(i, s) for i, s in sources.items()):
            self.validate_external_fields(sources, dest, all_equal)
        self.add_join_field(sources, dest, all_equal, ctx)

    def merge_arguments(self, sources: dict[int, Field], dest: Field) -> None:
        names: list[str] = []
        for src in sources.values():
            for a in src.args:
                if a not in names:
                    names.append(a)
        for aname in names:
            missing = [i for i, s in sources.items() if aname not in s.args]
            if missing:
                required = [
                    self.names[i]
                    for i, s in sources.items()
                    if aname in s.args and s.args[aname].required
                ]
                if required:
                    self.error(
                        "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH",
                        f'Argument "{dest.coordinate}({aname}:)" is required in some '
                        f"subgraphs but does not appear in all subgraphs: it is required in "
                        f"{print_subgraph_names(required)} but does not appear in "
                        f"{print_subgraph_names([self.names[i] for i in missing])}",
                        required + [self.names[i] for i in missing],
                        dest.parent,
                        dest.name,
                    )
                continue
            arg_sources = {i: s.args[aname] for i, s in sources.items()}
            first = next(iter(arg_sources.values()))
            arg = InputValue(aname, first.type)
            arg.description = self.merge_description(dict(arg_sources.items()))
            self.record_directives(dict(arg_sources.items()), arg.directives)
            self.merge_input_type(arg_sources, arg, f"{dest.coordinate}({aname}:)", "argument")
            self.merge_default(arg_sources, arg, f"{dest.coordinate}({aname}:)", "Argument")
            dest.args[aname] = arg

    # -- type references -------------------------------------------------------------------

    def is_strict_subtype(self, sup: TypeNode, sub: TypeNode) -> bool:
        if isinstance(sub, ListTypeNode):
            return isinstance(sup, ListTypeNode) and self.is_subtype(sup.type, sub.type)
        if isinstance(sub, NonNullTypeNode):
            if isinstance(sup, NonNullTypeNode):
                return self.is_subtype(sup.type, sub.type)
            return self.is_subtype(sup, sub.type)
        if not isinstance(sup, NamedTypeNode) or not isinstance(sub, NamedTypeNode):
            return False
        sup_def = self.sg.types.get(sup.name.value)
        sub_def = self.sg.types.get(sub.name.value)
        if sup_def is None or sub_def is None or sub_def.kind not in ("OBJECT", "INTERFACE"):
            return False
        if sup_def.kind == "INTERFACE":
            return sup_def.name in sub_def.interfaces
        if sup_def.kind == "UNION":
            return sub_def.name in sup_def.members
        return False

    def is_subtype(self, sup: TypeNode, sub: TypeNode) -> bool:
        return same_type(sup, sub) or self.is_strict_subtype(sup, sub)

    def merge_type_reference(
        self,
        sources: dict[int, Field] | dict[int, InputValue],
        dest: Field | InputValue,
        *,
        is_input: bool,
        coordinate: str | None = None,
        kind: str = "field",
    ) -> bool:
        dest_type: TypeNode | None = None
        has_subtypes = False
        incompatible = False
        for src in sources.values():
            t = src.type
            if dest_type is None or same_type(dest_type, t):
                dest_type = t
            elif self.is_strict_subtype(dest_type, t):
                has_subtypes = True
                if is_input:
                    dest_type = t
            elif self.is_strict_subtype(t, dest_type):
                has_subtypes = True
                if not is_input:
                    dest_type = t
            else:
                incompatible = True
        assert dest_type is not None
        dest.type = dest_type
        base = base_name(dest_type)
        if base in self.sg.types and self.sg.types[base].kind == "ENUM":
            position = "Input" if is_input else "Output"
            existing = self.enum_usage.get(base)
            self.enum_usage[base] = (
                "Both" if existing is not None and existing != position else position
            )
            examples = self.enum_examples.setdefault(base, {})
            examples.setdefault(position, coordinate or str(getattr(dest, "coordinate", "")))
        if incompatible:
            coord = coordinate or str(getattr(dest, "coordinate", dest.name))
            code = "FIELD_TYPE_MISMATCH" if kind == "field" else "ARGUMENT_TYPE_MISMATCH"
            desc = self.mismatch_description(
                dict(sources.items()),
                lambda s: f'type "{type_str(s.type)}"',  # type: ignore[attr-defined]
            )
            parent, _, fname = (coord.split("(")[0]).partition(".")
            self.error(
                code,
                f'Type of {kind} "{coord}" is incompatible across subgraphs: it has {desc}',
                [self.names[i] for i in sources],
                parent,
                fname or None,
            )
            return False
        return not has_subtypes

    def merge_input_type(
        self, sources: dict[int, InputValue], dest: InputValue, coordinate: str, kind: str
    ) -> bool:
        return self.merge_type_reference(
            sources, dest, is_input=True, coordinate=coordinate, kind=kind
        )

    def merge_default(
        self, sources: dict[int, InputValue], dest: InputValue, coordinate: str, kind: str
    ) -> None:
        dest_default = None
        seen = False
        inconsistent = False
        incompatible = False
        for src in sources.values():
            if dest_default is None:
                dest_default = src.default
                if seen and src.default is not None:
                    inconsistent = True
            elif value_key(dest_default) != value_key(src.default):
                inconsistent = True
                if src.default is not None:
                    incompatible = True
            seen = True
        if not inconsistent or incompatible:
            dest.default = dest_default
        if incompatible:
            code = (
                "ARGUMENT_DEFAULT_MISMATCH"
                if kind == "Argument"
                else ("INPUT_FIELD_DEFAULT_MISMATCH")
            )
            desc = self.mismatch_description(
                dict(sources.items()),
                lambda s: (
                    f"default value {value_key(s.default)}"  # type: ignore[attr-defined]
                    if s.default is not None  # type: ignore[attr-defined]
                    else "no default value"
                ),
            )
            parent = coordinate.split(".")[0]
            self.error(
                code,
                f'{kind} "{coordinate}" has incompatible default values across subgraphs: it '
                f"has {desc}",
                [self.names[i] for i in sources],
                parent,
            )

    def validate_external_fields(self, sources: Sources, dest: Field, all_equal: bool) -> None:
        invalid_type = False
        missing_args: list[str] = []
        for idx, src in sources.items():
            if src is None or not self.is_external(idx, src):
                continue
            if not (
                same_type(dest.type, src.type)
                or (not all_equal and self.is_strict_subtype(dest.type, src.type))
            ):
                invalid_type = True
            for aname in dest.args:
                if aname not in src.args and aname not in missing_args:
                    missing_args.append(aname)
        if invalid_type:
            desc = self.mismatch_description(
                {i: s for i, s in sources.items() if s is not None},
                lambda s: f'type "{type_str(s.type)}"',  # type: ignore[attr-defined]
            )
            self.error(
                "EXTERNAL_TYPE_MISMATCH",
                f'Type of field "{dest.coordinate}" is incompatible across subgraphs (where '
                f"marked @external): it has {desc}",
                [self.names[i] for i, s in sources.items() if s is not None],
                dest.parent,
                dest.name,
            )
        for aname in missing_args:
            self.error(
                "EXTERNAL_ARGUMENT_MISSING",
                f'Field "{dest.coordinate}" is missing argument "{dest.coordinate}({aname}:)" '
                "in some subgraphs where it is marked @external.",
                [self.names[i] for i, s in sources.items() if s is not None],
                dest.parent,
                dest.name,
            )

    # -- join__field -----------------------------------------------------------------------

    def needs_join_field(
        self, sources: Sources, parent: str, all_equal: bool, ctx: FieldMergeContext
    ) -> bool:
        if not all_equal or ctx.used_overridden or ctx.labels:
            return True
        for idx, src in sources.items():
            if src is not None and idx not in ctx.unused_overridden:
                if self.is_external(idx, src) or src.has_fed("provides") or src.has_fed("requires"):
                    return True
            elif parent in self.subs[idx].types:
                return True
        return False

    def add_join_field(
        self, sources: Sources, dest: Field, all_equal: bool, ctx: FieldMergeContext
    ) -> None:
        if not self.needs_join_field(sources, dest.parent, all_equal, ctx):
            return
        for idx, src in sources.items():
            label = ctx.labels.get(idx)
            if src is None or (idx in ctx.unused_overridden and label is None):
                continue
            requires = src.fed("requires")
            provides = src.fed("provides")
            override = src.fed("override")
            dest.directives.append(
                make_directive(
                    "join__field",
                    graph=self.graph(idx),
                    requires=requires.str_arg("fields") if requires else None,
                    provides=provides.str_arg("fields") if provides else None,
                    type=None if all_equal else type_str(src.type),
                    external=True if self.is_external(idx, src) else None,
                    override=override.str_arg("from") if override else None,
                    usedOverridden=True if idx in ctx.used_overridden else None,
                    overrideLabel=label,
                )
            )

    def validate_field_sharing(self, sources: Sources, dest: Field, ctx: FieldMergeContext) -> None:
        shareable: list[str] = []
        non_shareable: list[tuple[str, int]] = []
        resolving: list[str] = []

        def categorize(idx: int, label: str, f: Field) -> None:
            if self.subs[idx].is_fully_external(f):
                return
            resolving.append(label)
            if self.subs[idx].is_shareable(f):
                shareable.append(label)
            else:
                non_shareable.append((label, idx))

        for idx, src in sources.items():
            label = f'"{self.names[idx]}"'
            if src is None:
                for f in self.fields_abstracted_by_interface_object(dest, idx):
                    categorize(
                        idx, label + f' (through @interfaceObject field "{f.coordinate}")', f
                    )
                continue
            if idx in ctx.used_overridden or idx in ctx.unused_overridden:
                continue
            categorize(idx, label, src)
        if non_shareable and (shareable or len(non_shareable) > 1):

            def listing(items: list[str]) -> str:
                if len(items) == 1:
                    return "subgraph " + items[0]
                return "subgraphs " + ", ".join(items[:-1]) + " and " + items[-1]

            non = listing([n for n, _ in non_shareable]) if shareable else "all of them"
            extra = ""
            unknown = next((n for n, i in non_shareable if i in ctx.unknown_target), None)
            if unknown is not None:
                extra = (
                    f' (please note that "{dest.coordinate}" has an @override directive in '
                    f"{unknown} that targets an unknown subgraph so this could be due to "
                    "misspelling the @override(from:) argument)"
                )
            self.error(
                "INVALID_FIELD_SHARING",
                f'Non-shareable field "{dest.coordinate}" is resolved from multiple subgraphs: '
                f"it is resolved from {listing(resolving)} and defined as non-shareable in "
                f"{non}{extra}",
                [r.split('"')[1] for r in resolving],
                dest.parent,
                dest.name,
            )

    # -- unions, enums, inputs -------------------------------------------------------------

    def merge_union(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        for src in sources.values():
            for m in src.members:
                if m not in dest.members:
                    dest.members.append(m)
        for m in dest.members:
            for idx, src in sources.items():
                if m in src.members:
                    dest.directives.append(
                        make_directive("join__unionMember", graph=self.graph(idx), member=m)
                    )

    def merge_enum(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        usage = self.enum_usage.get(dest.name, "Output")
        for src in sources.values():
            for v in src.values:
                if v not in dest.values:
                    dest.values[v] = EnumValue(v)
        for vname in list(dest.values):
            value = dest.values[vname]
            value_sources = {i: s.values[vname] for i, s in sources.items() if vname in s.values}
            value.description = self.merge_description(dict(value_sources.items()))
            self.record_directives(dict(value_sources.items()), value.directives)
            for idx in value_sources:
                value.directives.append(make_directive("join__enumValue", graph=self.graph(idx)))
            inaccessible = any(d.name == "inaccessible" for d in value.directives)
            missing = [i for i in sources if i not in value_sources]
            if inaccessible or usage == "Output" or not missing:
                continue
            if usage == "Both":
                examples = self.enum_examples.get(dest.name, {})
                defined = [self.names[i] for i in value_sources]
                self.error(
                    "ENUM_VALUE_MISMATCH",
                    f'Enum type "{dest.name}" is used as both input type (for example, as type '
                    f'of "{examples.get("Input", "")}") and output type (for example, as type of '
                    f'"{examples.get("Output", "")}"), but value "{vname}" is not defined in all '
                    f'the subgraphs defining "{dest.name}": "{vname}" is defined in '
                    f"{print_subgraph_names(defined)} but not in "
                    f"{print_subgraph_names([self.names[i] for i in missing])}",
                    defined + [self.names[i] for i in missing],
                    dest.name,
                    vname,
                )
            else:
                del dest.values[vname]
        if not dest.values:
            self.error(
                "EMPTY_MERGED_ENUM_TYPE",
                f'None of the values of enum type "{dest.name}" are defined consistently in all '
                f"the subgraphs defining that type. As only values common to all subgraphs are "
                "merged, this would result in an empty type.",
                [self.names[i] for i in sources],
                dest.name,
            )

    def merge_input(self, dest: TypeDef, sources: dict[int, TypeDef]) -> None:
        names: list[str] = []
        for src in sources.values():
            for n in src.input_fields:
                if n not in names:
                    names.append(n)
        for fname in names:
            field_sources = {
                i: s.input_fields[fname] for i, s in sources.items() if fname in s.input_fields
            }
            first = next(iter(field_sources.values()))
            dest_field = InputValue(fname, first.type)
            dest_field.description = self.merge_description(dict(field_sources.items()))
            self.record_directives(dict(field_sources.items()), dest_field.directives)
            coordinate = f"{dest.name}.{fname}"
            all_equal = self.merge_input_type(field_sources, dest_field, coordinate, "field")
            missing = [i for i in sources if i not in field_sources]
            if not all_equal or missing:
                for idx, field_src in field_sources.items():
                    dest_field.directives.append(
                        make_directive(
                            "join__field",
                            graph=self.graph(idx),
                            type=None if all_equal else type_str(field_src.type),
                        )
                    )
            self.merge_default(field_sources, dest_field, coordinate, "Input field")
            inaccessible = any(d.name == "inaccessible" for d in dest_field.directives)
            if missing and not inaccessible:
                required = [self.names[i] for i, s in field_sources.items() if s.required]
                if required:
                    self.error(
                        "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH",
                        f'Input object field "{coordinate}" is required in some subgraphs but '
                        f"does not appear in all subgraphs: it is required in "
                        f"{print_subgraph_names(required)} but does not appear in "
                        f"{print_subgraph_names([self.names[i] for i in missing])}",
                        required + [self.names[i] for i in missing],
                        dest.name,
                        fname,
                    )
                continue
            dest.input_fields[fname] = dest_field
        if not dest.input_fields:
            self.error(
                "EMPTY_MERGED_INPUT_TYPE",
                f'None of the fields of input object type "{dest.name}" are consistently '
                "defined in all the subgraphs defining that type. As only fields common to all "
                "subgraphs are merged, this would result in an empty type.",
                [self.names[i] for i in sources],
                dest.name,
            )

    # -- directive definitions -------------------------------------------------------------

    def collect_composed_directives(self) -> None:
        """Directives named by @composeDirective keep their definitions and applications."""
        for sub in self.subs:
            for d in sub.schema_directives:
                if not (d.federation and d.name == "composeDirective"):
                    continue
                name = (d.str_arg("name") or "").lstrip("@")
                definition = sub.directive_defs.get(name)
                if definition is None:
                    self.error(
                        "DIRECTIVE_COMPOSITION_ERROR",
                        f"[{sub.name}] Could not find matching directive definition for "
                        f'argument to @composeDirective "@{name}" in subgraph "{sub.name}".',
                        [sub.name],
                    )
                    continue
                self.composed[name] = name
                self.sg.directive_defs[name] = definition
                for feature in sub.links:
                    if name in feature.imports:
                        imports = f"@{feature.imports[name]}"
                        existing = next(
                            (link for link in self.sg.links if link.url == feature.url), None
                        )
                        if existing is None:
                            from .supergraph import SpecLink

                            self.sg.links.append(SpecLink(feature.url, None, (imports,)))
                        elif imports not in existing.imports:
                            idx = self.sg.links.index(existing)
                            self.sg.links[idx] = SpecLink(
                                existing.url, existing.purpose, (*existing.imports, imports)
                            )

    def merge_directive_definitions(self) -> None:
        names: list[str] = []
        for sub in self.subs:
            for name, d in sub.directive_defs.items():
                if name in self.composed or name in names:
                    continue
                if any(loc in EXECUTABLE_LOCATIONS for loc in d.locations):
                    names.append(name)
        for name in sorted(names):
            defs = [s.directive_defs.get(name) for s in self.subs]
            if any(d is None for d in defs):
                continue
            present = [d for d in defs if d is not None]
            locations = [
                loc
                for loc in present[0].locations
                if loc in EXECUTABLE_LOCATIONS and all(loc in d.locations for d in present)
            ]
            if not locations:
                continue
            arg_names = [a for a in present[0].args if all(a in d.args for d in present)]
            merged = DirectiveDef(
                name=name,
                args={a: present[0].args[a] for a in arg_names},
                locations=locations,
                repeatable=all(d.repeatable for d in present),
                description=present[0].description,
            )
            self.sg.directive_defs[name] = merged

    # -- interface objects ----------------------------------------------------------------

    def field_provided_by_interface_object(self, fname: str, itf: str) -> bool:
        for sub in self.subs:
            t = sub.types.get(itf)
            if t is not None and sub.is_interface_object(t):
                f = t.fields.get(fname)
                if f is not None and not sub.is_external(f):
                    return True
        return False

    def add_missing_interface_object_fields(self) -> None:
        for t in list(self.sg.types.values()):
            if t.kind != "OBJECT":
                continue
            for itf in t.interfaces:
                itf_def = self.sg.types.get(itf)
                if itf_def is None:
                    continue
                for ifield in itf_def.fields.values():
                    if ifield.name in t.fields:
                        continue
                    if not self.field_provided_by_interface_object(ifield.name, itf):
                        continue
                    f = Field(ifield.name, ifield.type, t.name, description=ifield.description)
                    f.args = {
                        k: InputValue(
                            a.name,
                            a.type,
                            a.default,
                            a.description,
                            [d for d in a.directives if not d.name.startswith("join__")],
                        )
                        for k, a in ifield.args.items()
                    }
                    f.directives = [d for d in ifield.directives if not d.name.startswith("join__")]
                    f.directives.insert(0, make_directive("join__field"))
                    t.fields[f.name] = f

    # -- links -----------------------------------------------------------------------------

    def finish_links(self) -> None:
        from .supergraph import SpecLink

        links: list[SpecLink] = []
        if self.sg.uses_tag:
            links.append(SpecLink("https://specs.apollo.dev/tag/v0.3"))
        if self.sg.uses_inaccessible:
            links.append(SpecLink("https://specs.apollo.dev/inaccessible/v0.2", "SECURITY"))
        for name in sorted(self.sg.security_directives):
            links.append(SpecLink(SECURITY_SPECS[name], "SECURITY"))
        self.sg.links = links + self.sg.links


def merge(subgraphs: list[Subgraph]) -> tuple[Supergraph, list[CompositionError], list[str]]:
    merger = Merger(subgraphs)
    supergraph = merger.merge()
    return supergraph, merger.errors, merger.hints
