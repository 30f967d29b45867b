"""Reading Federation 1 subgraphs as Federation 2 ones.

Federation 1 had no @shareable (every field could be resolved by several subgraphs), used
``extend type`` for entities owned elsewhere and tolerated @external on key fields of such
extensions. The rules below give a Federation 1 subgraph the meaning it had, expressed with
Federation 2 directives, so the merger needs only one set of rules.
"""

from __future__ import annotations

import copy

from .errors import CompositionError
from .model import Directive, TypeDef, base_name
from .subgraph import Subgraph


def _is_type_extension(t: TypeDef) -> bool:
    has_extends = t.has_fed("extends")
    return (
        (t.has_extension or has_extends)
        and t.kind in ("OBJECT", "INTERFACE")
        and (has_extends or not t.has_definition)
    )


def upgrade_fed1(subgraphs: list[Subgraph]) -> tuple[list[Subgraph], list[CompositionError]]:
    """Upgrade every Federation 1 subgraph of ``subgraphs`` (Federation 2 ones are kept)."""
    originals = {s.name: s for s in subgraphs}
    result: list[Subgraph] = []
    errors: list[CompositionError] = []
    for sub in subgraphs:
        if sub.fed2:
            result.append(sub)
            continue
        upgraded = copy.deepcopy(sub)
        upgraded.invalidate()
        errors.extend(_upgrade(upgraded, sub, originals))
        upgraded.fed2 = True  # now expressed with Federation 2 semantics
        upgraded.fed_version = (2, 0)
        upgraded.invalidate()
        result.append(upgraded)
    return result, errors


def _upgrade(
    sub: Subgraph, original: Subgraph, all_subs: dict[str, Subgraph]
) -> list[CompositionError]:
    errors: list[CompositionError] = []
    others = [s for s in all_subs.values() if s.name != sub.name]

    # extension with no base anywhere
    for t in sub.types.values():
        if t.name in sub.roots.values() or not _is_type_extension(t):
            continue
        if not any(
            o.types.get(t.name) is not None and o.types[t.name].has_definition for o in others
        ):
            errors.append(
                CompositionError(
                    code="EXTENSION_WITH_NO_BASE",
                    message=f'[{sub.name}] Type "{t.name}" is an extension type, but there is no '
                    f'type definition for "{t.name}" in any subgraph.',
                    subgraphs=(sub.name,),
                    type_name=t.name,
                )
            )

    # @external on interface fields and on object types is meaningless
    for t in sub.types.values():
        if t.kind == "INTERFACE":
            for f in t.fields.values():
                f.directives = [
                    d for d in f.directives if not (d.federation and d.name == "external")
                ]
        if t.kind == "OBJECT":
            t.directives = [d for d in t.directives if not (d.federation and d.name == "external")]
    sub.invalidate()

    # @external on key fields of type extensions
    for t in sub.types.values():
        if t.kind not in ("OBJECT", "INTERFACE"):
            continue
        is_root = t.name in sub.roots.values()
        if not _is_type_extension(t) and not (is_root and t.has_extension and not t.has_definition):
            continue
        keys = t.fed_all("key")
        key_field_names: set[str] = set()
        if keys:
            for key in keys:
                for f in sub.targets(t, key.str_arg("fields") or "", implementations=False):
                    if f.parent == t.name:
                        key_field_names.add(f.name)
        else:
            for other in others:
                ot = other.types.get(t.name)
                if ot is None or not ot.fed_all("key"):
                    continue
                first = ot.fed_all("key")[0]
                for f in other.targets(ot, first.str_arg("fields") or "", implementations=False):
                    if f.parent == ot.name:
                        key_field_names.add(f.name)
        for name in key_field_names:
            key_field = t.fields.get(name)
            if key_field is not None:
                key_field.directives = [
                    d for d in key_field.directives if not (d.federation and d.name == "external")
                ]
    sub.invalidate()

    # @requires / @provides selecting only non-external fields do nothing
    for t in sub.types.values():
        for f in t.fields.values():
            for dname in ("requires", "provides"):
                d = f.fed(dname)
                if d is None:
                    continue
                parent = t if dname == "requires" else sub.types.get(base_name(f.type))
                if parent is None or not parent.is_composite:
                    continue
                selected = sub.targets(parent, d.str_arg("fields") or "")
                if selected and not any(sub.is_external(x) for x in selected):
                    f.directives.remove(d)
    sub.invalidate()

    # type extensions become definitions
    for t in sub.types.values():
        if _is_type_extension(t) or (t.name in sub.roots.values() and t.has_extension):
            t.has_definition = True
            t.has_extension = False
            for d in t.directives:
                d.on_extension = False
            for f in t.fields.values():
                f.on_extension = False

    # @key on interfaces, @provides/@requires on interface fields
    for t in sub.types.values():
        if t.kind == "INTERFACE":
            t.directives = [d for d in t.directives if not (d.federation and d.name == "key")]
            for f in t.fields.values():
                f.directives = [
                    d
                    for d in f.directives
                    if not (d.federation and d.name in ("provides", "requires"))
                ]
        if t.kind == "OBJECT":
            for f in t.fields.values():
                target = sub.types.get(base_name(f.type))
                if target is None or not target.is_composite:
                    f.directives = [
                        d for d in f.directives if not (d.federation and d.name == "provides")
                    ]
    sub.invalidate()

    # unused @external fields
    for t in list(sub.types.values()):
        if t.kind not in ("OBJECT", "INTERFACE"):
            continue
        for f in list(t.fields.values()):
            if sub.is_external(f) and not sub.is_used(f):
                del t.fields[f.name]
        if not t.fields and t.name != "Query":
            referenced = any(
                base_name(f.type) == t.name for o in sub.types.values() for f in o.fields.values()
            ) or any(t.name in o.members for o in sub.types.values())
            if referenced:
                errors.append(
                    CompositionError(
                        code="TYPE_WITH_ONLY_UNUSED_EXTERNAL",
                        message=f"[{sub.name}] Type {t.name} contains only external fields and all "
                        "those fields are all unused (they do not appear in any @key, @provides or "
                        "@requires).",
                        subgraphs=(sub.name,),
                        type_name=t.name,
                    )
                )
            else:
                del sub.types[t.name]
        sub.invalidate()

    # @shareable where Federation 1 allowed sharing
    for t in sub.types.values():
        if t.kind != "OBJECT" or t.name == "Subscription":
            continue
        in_others = [
            (o, o.types[t.name])
            for o in others
            if t.name in o.types and o.types[t.name].kind in ("OBJECT", "INTERFACE")
        ]
        if t.fed_all("key") or t.name in sub.roots.values():
            for f in t.fields.values():
                orig = original.field_of(t.name, f.name)
                if orig is not None and original.is_shareable(orig):
                    continue
                shared = False
                for o, ot in in_others:
                    of = ot.fields.get(f.name)
                    if of is not None and (not o.is_external(of) or o.is_partially_external(of)):
                        shared = True
                if shared and not f.has_fed("shareable"):
                    f.directives.append(Directive("shareable", federation=True))
        elif in_others and not t.has_fed("shareable"):
            t.directives.append(Directive("shareable", federation=True))
    sub.invalidate()
    return errors
