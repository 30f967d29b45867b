"""Checks on one subgraph before merging: field sets, @external usage, type references."""

from __future__ import annotations

from graphql import FieldNode, InlineFragmentNode, SelectionSetNode

from .errors import CompositionError
from .fieldset import FieldSetError, collect_field_set, parse_field_set
from .model import BUILTIN_SCALARS, Field, TypeDef, base_name, type_str
from .subgraph import Subgraph


def _err(
    sub: Subgraph,
    code: str,
    message: str,
    type_name: str | None = None,
    field_name: str | None = None,
) -> CompositionError:
    return CompositionError(
        code=code,
        message=f"[{sub.name}] {message}",
        subgraphs=(sub.name,),
        type_name=type_name,
        field_name=field_name,
    )


def validate_subgraph(sub: Subgraph) -> list[CompositionError]:
    errors: list[CompositionError] = []
    errors.extend(_validate_references(sub))
    if errors:
        return errors
    for t in sub.types.values():
        if t.kind in ("OBJECT", "INTERFACE"):
            errors.extend(_validate_keys(sub, t))
            for f in t.fields.values():
                errors.extend(_validate_requires(sub, t, f))
                errors.extend(_validate_provides(sub, t, f))
    if sub.fed2:
        errors.extend(_validate_externals(sub))
    return errors


def _validate_references(sub: Subgraph) -> list[CompositionError]:
    errors: list[CompositionError] = []

    def check(tname: str, where: str, type_name: str, field_name: str | None = None) -> None:
        if tname not in sub.types and tname not in BUILTIN_SCALARS:
            errors.append(
                _err(
                    sub,
                    "INVALID_GRAPHQL",
                    f'Unknown type "{tname}" (used by {where}).',
                    type_name,
                    field_name,
                )
            )

    for t in sub.types.values():
        for f in t.fields.values():
            check(base_name(f.type), f'"{f.coordinate}"', t.name, f.name)
            for a in f.args.values():
                check(base_name(a.type), f'"{f.coordinate}({a.name}:)"', t.name, f.name)
        for iv in t.input_fields.values():
            check(base_name(iv.type), f'"{t.name}.{iv.name}"', t.name, iv.name)
        for itf in t.interfaces:
            itf_def = sub.types.get(itf)
            if itf_def is None or itf_def.kind != "INTERFACE":
                errors.append(
                    _err(
                        sub,
                        "INVALID_GRAPHQL",
                        f'Type "{t.name}" implements "{itf}" which is not an interface.',
                        t.name,
                    )
                )
                continue
            if sub.is_interface_object(t):
                continue
            for fname in itf_def.fields:
                if fname not in t.fields:
                    errors.append(
                        _err(
                            sub,
                            "INVALID_GRAPHQL",
                            f"Interface field {itf}.{fname} expected but {t.name} does not "
                            "provide it.",
                            t.name,
                            fname,
                        )
                    )
        for member in t.members:
            m = sub.types.get(member)
            if m is None or m.kind != "OBJECT":
                errors.append(
                    _err(
                        sub,
                        "INVALID_GRAPHQL",
                        f'Union type "{t.name}" can only include object types, it cannot '
                        f'include "{member}".',
                        t.name,
                    )
                )
    return errors


def _validate_keys(sub: Subgraph, t: TypeDef) -> list[CompositionError]:
    errors: list[CompositionError] = []
    for key in t.fed_all("key"):
        fields = key.str_arg("fields")
        prefix = f'On type "{t.name}", for {key.print()}: '
        if fields is None:
            errors.append(
                _err(
                    sub,
                    "KEY_INVALID_FIELDS_TYPE",
                    prefix + 'the "fields" argument must be a string.',
                    t.name,
                )
            )
            continue
        problems: list[CompositionError] = []

        def on_field(
            parent: TypeDef,
            f: Field,
            node: FieldNode,
            problems: list[CompositionError] = problems,
            prefix: str = prefix,
        ) -> None:
            if f.args:
                problems.append(
                    _err(
                        sub,
                        "KEY_FIELDS_HAS_ARGS",
                        prefix + f"field {f.coordinate} cannot be included because "
                        "it has arguments (fields with argument are not allowed "
                        "in @key)",
                        t.name,
                        f.name,
                    )
                )
            target = sub.types.get(base_name(f.type))
            if target is not None and target.kind in ("UNION", "INTERFACE"):
                label = "Union" if target.kind == "UNION" else "Interface"
                problems.append(
                    _err(
                        sub,
                        "KEY_FIELDS_SELECT_INVALID_TYPE",
                        prefix + f'field "{f.coordinate}" is a {label} type which '
                        "is not allowed in @key",
                        t.name,
                        f.name,
                    )
                )

        try:
            collect_field_set(sub.types, t, fields, on_field=on_field, for_key=True)
        except FieldSetError as exc:
            errors.append(_err(sub, "KEY_INVALID_FIELDS", prefix + str(exc), t.name))
            continue
        errors.extend(problems)
    return errors


def _check_leaves(
    sub: Subgraph,
    parent: TypeDef,
    selection: SelectionSetNode,
    external_above: bool,
    directive: str,
    prefix: str,
    out: list[CompositionError],
    owner: Field,
) -> None:
    """Leaf fields of @requires/@provides must be @external (unless under an external field)."""
    for node in selection.selections:
        if isinstance(node, InlineFragmentNode):
            target = parent
            if node.type_condition is not None:
                target = sub.types.get(node.type_condition.name.value, parent)
            _check_leaves(
                sub, target, node.selection_set, external_above, directive, prefix, out, owner
            )
            continue
        if not isinstance(node, FieldNode) or node.name.value == "__typename":
            continue
        f = parent.fields.get(node.name.value)
        if f is None:
            continue
        external = sub.is_external(f)
        if node.selection_set is None:
            if not external and not external_above:
                code = f"{directive.upper()}_FIELDS_MISSING_EXTERNAL"
                out.append(
                    _err(
                        sub,
                        code,
                        prefix + f'field "{f.coordinate}" should not be part of a @{directive} '
                        "since it is already provided by this subgraph (it is not marked "
                        "@external)",
                        owner.parent,
                        owner.name,
                    )
                )
            continue
        below = external_above or external
        if not below and parent.kind == "INTERFACE":
            below = any(
                impl.fields.get(f.name) is not None and sub.is_external(impl.fields[f.name])
                for impl in sub.implementations(parent.name)
            )
        child = sub.types.get(base_name(f.type))
        if child is not None:
            _check_leaves(sub, child, node.selection_set, below, directive, prefix, out, owner)


def _validate_requires(sub: Subgraph, t: TypeDef, f: Field) -> list[CompositionError]:
    req = f.fed("requires")
    if req is None:
        return []
    fields = req.str_arg("fields") or ""
    prefix = f'On field "{f.coordinate}", for {req.print()}: '
    try:
        collect_field_set(sub.types, t, fields)
    except FieldSetError as exc:
        return [_err(sub, "REQUIRES_INVALID_FIELDS", prefix + str(exc), t.name, f.name)]
    errors: list[CompositionError] = []
    if sub.fed2:
        _check_leaves(sub, t, parse_field_set(fields), False, "requires", prefix, errors, f)
    return errors


def _validate_provides(sub: Subgraph, t: TypeDef, f: Field) -> list[CompositionError]:
    prov = f.fed("provides")
    if prov is None:
        return []
    prefix = f'On field "{f.coordinate}", for {prov.print()}: '
    if sub.is_external(f):
        return [
            _err(
                sub,
                "EXTERNAL_COLLISION_WITH_ANOTHER_DIRECTIVE",
                f'Cannot have both @provides and @external on field "{f.coordinate}"',
                t.name,
                f.name,
            )
        ]
    target = sub.types.get(base_name(f.type))
    if target is None or not target.is_composite:
        return [
            _err(
                sub,
                "PROVIDES_ON_NON_OBJECT_FIELD",
                f'Invalid @provides directive on field "{f.coordinate}": field has type '
                f'"{type_str(f.type)}" which is not a Composite Type',
                t.name,
                f.name,
            )
        ]
    fields = prov.str_arg("fields") or ""
    try:
        collect_field_set(sub.types, target, fields)
    except FieldSetError as exc:
        return [_err(sub, "PROVIDES_INVALID_FIELDS", prefix + str(exc), t.name, f.name)]
    errors: list[CompositionError] = []
    if sub.fed2:
        _check_leaves(sub, target, parse_field_set(fields), False, "provides", prefix, errors, f)
    return errors


def _validate_externals(sub: Subgraph) -> list[CompositionError]:
    errors: list[CompositionError] = []
    for t in sub.types.values():
        if t.kind == "INTERFACE":
            for f in t.fields.values():
                if f.has_fed("external"):
                    errors.append(
                        _err(
                            sub,
                            "EXTERNAL_ON_INTERFACE",
                            f'Interface type field "{f.coordinate}" is marked @external but '
                            "@external is not allowed on interface fields (it is nonsensical).",
                            t.name,
                            f.name,
                        )
                    )
        if t.kind != "OBJECT":
            continue
        for f in t.fields.values():
            if sub.is_external(f) and not sub.is_used(f):
                errors.append(
                    _err(
                        sub,
                        "EXTERNAL_UNUSED",
                        f'Field "{f.coordinate}" is marked @external but is not used in any '
                        "federation directive (@key, @provides, @requires) or to satisfy an "
                        "interface; the field declaration has no use and should be removed (or the "
                        "field should not be @external).",
                        t.name,
                        f.name,
                    )
                )
    return errors
