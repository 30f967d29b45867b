"""Breaking-change detection between two API schemas.

Accepts supergraph SDL (reduced to its API schema first) or plain SDL. Each change has a
severity: ``breaking`` (existing operations may fail), ``dangerous`` (operations keep validating
but may behave differently, e.g. a new enum value a client does not handle) or ``safe``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    Undefined,
    is_non_null_type,
    is_specified_directive,
    is_specified_scalar_type,
    print_ast,
)

from .api_schema import api_schema


class Severity(StrEnum):
    BREAKING = "breaking"
    DANGEROUS = "dangerous"
    SAFE = "safe"


@dataclass(frozen=True)
class SchemaChange:
    severity: Severity
    kind: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity.value.upper():9} {self.kind:28} {self.path}: {self.message}"


_Add = Callable[[SchemaChange], None]


def diff_schemas(old_sdl: str, new_sdl: str) -> list[SchemaChange]:
    """Changes from ``old_sdl`` to ``new_sdl`` (supergraph or API SDL), breaking first."""
    return diff(api_schema(old_sdl), api_schema(new_sdl))


def breaking_changes(old_sdl: str, new_sdl: str) -> list[SchemaChange]:
    return [c for c in diff_schemas(old_sdl, new_sdl) if c.severity is Severity.BREAKING]


_KIND_NAMES = {
    GraphQLObjectType: "object type",
    GraphQLInterfaceType: "interface",
    GraphQLUnionType: "union",
    GraphQLEnumType: "enum",
    GraphQLInputObjectType: "input object type",
    GraphQLScalarType: "scalar",
}


def _kind(t: GraphQLNamedType) -> str:
    return _KIND_NAMES.get(type(t), type(t).__name__)


def _user_types(schema: GraphQLSchema) -> dict[str, GraphQLNamedType]:
    return {
        name: t
        for name, t in schema.type_map.items()
        if not name.startswith("__") and not is_specified_scalar_type(t)
    }


def diff(old: GraphQLSchema, new: GraphQLSchema) -> list[SchemaChange]:
    changes: list[SchemaChange] = []
    add = changes.append
    old_types, new_types = _user_types(old), _user_types(new)
    for name, old_type in old_types.items():
        new_type = new_types.get(name)
        if new_type is None:
            add(SchemaChange(Severity.BREAKING, "TYPE_REMOVED", name, f"type {name} was removed"))
            continue
        if type(old_type) is not type(new_type):
            add(
                SchemaChange(
                    Severity.BREAKING,
                    "TYPE_KIND_CHANGED",
                    name,
                    f"{name} changed from {_kind(old_type)} to {_kind(new_type)}",
                )
            )
            continue
        if isinstance(old_type, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(new_type, GraphQLObjectType | GraphQLInterfaceType)
            _diff_fields(old_type, new_type, add)
            _diff_interfaces(old_type, new_type, add)
        elif isinstance(old_type, GraphQLUnionType):
            assert isinstance(new_type, GraphQLUnionType)
            _diff_union(old_type, new_type, add)
        elif isinstance(old_type, GraphQLEnumType):
            assert isinstance(new_type, GraphQLEnumType)
            _diff_enum(old_type, new_type, add)
        elif isinstance(old_type, GraphQLInputObjectType):
            assert isinstance(new_type, GraphQLInputObjectType)
            _diff_input(old_type, new_type, add)
    for name, new_type in new_types.items():
        if name not in old_types:
            add(
                SchemaChange(
                    Severity.SAFE, "TYPE_ADDED", name, f"{_kind(new_type)} {name} was added"
                )
            )
    _diff_roots(old, new, add)
    _diff_directives(old, new, add)
    order = {Severity.BREAKING: 0, Severity.DANGEROUS: 1, Severity.SAFE: 2}
    return sorted(changes, key=lambda c: (order[c.severity], c.path, c.kind))


def _diff_roots(old: GraphQLSchema, new: GraphQLSchema, add: _Add) -> None:
    for op, o, n in (
        ("query", old.query_type, new.query_type),
        ("mutation", old.mutation_type, new.mutation_type),
        ("subscription", old.subscription_type, new.subscription_type),
    ):
        old_name = o.name if o else None
        new_name = n.name if n else None
        if old_name and old_name != new_name:
            add(
                SchemaChange(
                    Severity.BREAKING,
                    "ROOT_TYPE_CHANGED",
                    op,
                    f"{op} root type changed from {old_name} to {new_name or 'none'}",
                )
            )


def _diff_fields(
    old: GraphQLObjectType | GraphQLInterfaceType,
    new: GraphQLObjectType | GraphQLInterfaceType,
    add: _Add,
) -> None:
    for fname, old_field in old.fields.items():
        path = f"{old.name}.{fname}"
        new_field = new.fields.get(fname)
        if new_field is None:
            add(SchemaChange(Severity.BREAKING, "FIELD_REMOVED", path, f"field {path} was removed"))
            continue
        if not _safe_output_change(old_field.type, new_field.type):
            add(
                SchemaChange(
                    Severity.BREAKING,
                    "FIELD_TYPE_CHANGED",
                    path,
                    f"field {path} changed type from {old_field.type} to {new_field.type}",
                )
            )
        elif str(old_field.type) != str(new_field.type):
            add(
                SchemaChange(
                    Severity.SAFE,
                    "FIELD_TYPE_CHANGED",
                    path,
                    f"field {path} changed type from {old_field.type} to {new_field.type}",
                )
            )
        _diff_args(path, old_field, new_field, add)
        if new_field.deprecation_reason and not old_field.deprecation_reason:
            add(SchemaChange(Severity.SAFE, "FIELD_DEPRECATED", path, f"field {path} deprecated"))
    for fname in new.fields:
        if fname not in old.fields:
            path = f"{new.name}.{fname}"
            add(SchemaChange(Severity.SAFE, "FIELD_ADDED", path, f"field {path} was added"))


def _diff_args(path: str, old: GraphQLField, new: GraphQLField, add: _Add) -> None:
    for aname, old_arg in old.args.items():
        apath = f"{path}({aname}:)"
        new_arg = new.args.get(aname)
        if new_arg is None:
            add(
                SchemaChange(
                    Severity.BREAKING,
                    "ARGUMENT_REMOVED",
                    apath,
                    f"argument {aname} of {path} was removed",
                )
            )
            continue
        _diff_input_value(apath, f"argument {aname} of {path}", old_arg, new_arg, add, "ARGUMENT")
    for aname, new_arg in new.args.items():
        if aname in old.args:
            continue
        apath = f"{path}({aname}:)"
        if _is_required(new_arg):
            add(
                SchemaChange(
                    Severity.BREAKING,
                    "REQUIRED_ARGUMENT_ADDED",
                    apath,
                    f"required argument {aname} was added to {path}",
                )
            )
        else:
            add(
                SchemaChange(
                    Severity.DANGEROUS,
                    "OPTIONAL_ARGUMENT_ADDED",
                    apath,
                    f"optional argument {aname} was added to {path}",
                )
            )


def _diff_input_value(
    path: str,
    label: str,
    old: GraphQLArgument | GraphQLInputField,
    new: GraphQLArgument | GraphQLInputField,
    add: _Add,
    kind: str,
) -> None:
    if not _safe_input_change(old.type, new.type):
        add(
            SchemaChange(
                Severity.BREAKING,
                f"{kind}_TYPE_CHANGED",
                path,
                f"{label} changed type from {old.type} to {new.type}",
            )
        )
    elif str(old.type) != str(new.type):
        add(
            SchemaChange(
                Severity.SAFE,
                f"{kind}_TYPE_CHANGED",
                path,
                f"{label} changed type from {old.type} to {new.type}",
            )
        )
    old_default = old.default_value if old.default_value is not Undefined else None
    new_default = new.default_value if new.default_value is not Undefined else None
    if old.ast_node is not None and new.ast_node is not None:
        old_text = print_ast(old.ast_node.default_value) if old.ast_node.default_value else None
        new_text = print_ast(new.ast_node.default_value) if new.ast_node.default_value else None
        if old_text != new_text:
            add(
                SchemaChange(
                    Severity.DANGEROUS,
                    f"{kind}_DEFAULT_CHANGED",
                    path,
                    f"{label} default changed from {old_text} to {new_text}",
                )
            )
    elif old_default != new_default:
        add(
            SchemaChange(
                Severity.DANGEROUS, f"{kind}_DEFAULT_CHANGED", path, f"{label} default changed"
            )
        )


def _diff_interfaces(
    old: GraphQLObjectType | GraphQLInterfaceType,
    new: GraphQLObjectType | GraphQLInterfaceType,
    add: _Add,
) -> None:
    old_names = {i.name for i in old.interfaces}
    new_names = {i.name for i in new.interfaces}
    for name in sorted(old_names - new_names):
        add(
            SchemaChange(
                Severity.BREAKING,
                "INTERFACE_REMOVED",
                old.name,
                f"{old.name} no longer implements {name}",
            )
        )
    for name in sorted(new_names - old_names):
        add(
            SchemaChange(
                Severity.DANGEROUS, "INTERFACE_ADDED", old.name, f"{old.name} now implements {name}"
            )
        )


def _diff_union(old: GraphQLUnionType, new: GraphQLUnionType, add: _Add) -> None:
    old_names = {t.name for t in old.types}
    new_names = {t.name for t in new.types}
    for name in sorted(old_names - new_names):
        add(
            SchemaChange(
                Severity.BREAKING,
                "UNION_MEMBER_REMOVED",
                old.name,
                f"{name} was removed from union {old.name}",
            )
        )
    for name in sorted(new_names - old_names):
        add(
            SchemaChange(
                Severity.DANGEROUS,
                "UNION_MEMBER_ADDED",
                old.name,
                f"{name} was added to union {old.name}",
            )
        )


def _diff_enum(old: GraphQLEnumType, new: GraphQLEnumType, add: _Add) -> None:
    for name in old.values:
        if name not in new.values:
            add(
                SchemaChange(
                    Severity.BREAKING,
                    "ENUM_VALUE_REMOVED",
                    f"{old.name}.{name}",
                    f"value {name} was removed from enum {old.name}",
                )
            )
    for name in new.values:
        if name not in old.values:
            add(
                SchemaChange(
                    Severity.DANGEROUS,
                    "ENUM_VALUE_ADDED",
                    f"{old.name}.{name}",
                    f"value {name} was added to enum {old.name}",
                )
            )


def _diff_input(old: GraphQLInputObjectType, new: GraphQLInputObjectType, add: _Add) -> None:
    for fname, old_field in old.fields.items():
        path = f"{old.name}.{fname}"
        new_field = new.fields.get(fname)
        if new_field is None:
            add(
                SchemaChange(
                    Severity.BREAKING,
                    "INPUT_FIELD_REMOVED",
                    path,
                    f"input field {path} was removed",
                )
            )
            continue
        _diff_input_value(path, f"input field {path}", old_field, new_field, add, "INPUT_FIELD")
    for fname, new_field in new.fields.items():
        if fname in old.fields:
            continue
        path = f"{new.name}.{fname}"
        if _is_required(new_field):
            add(
                SchemaChange(
                    Severity.BREAKING,
                    "REQUIRED_INPUT_FIELD_ADDED",
                    path,
                    f"required input field {path} was added",
                )
            )
        else:
            add(
                SchemaChange(
                    Severity.DANGEROUS,
                    "OPTIONAL_INPUT_FIELD_ADDED",
                    path,
                    f"optional input field {path} was added",
                )
            )


def _diff_directives(old: GraphQLSchema, new: GraphQLSchema, add: _Add) -> None:
    new_dirs = {d.name: d for d in new.directives}
    for d in old.directives:
        if is_specified_directive(d):
            continue
        nd = new_dirs.get(d.name)
        path = f"@{d.name}"
        if nd is None:
            add(
                SchemaChange(
                    Severity.BREAKING, "DIRECTIVE_REMOVED", path, f"directive {path} was removed"
                )
            )
            continue
        for loc in d.locations:
            if loc not in nd.locations:
                add(
                    SchemaChange(
                        Severity.BREAKING,
                        "DIRECTIVE_LOCATION_REMOVED",
                        path,
                        f"{loc.name} was removed from {path}",
                    )
                )
        for aname in d.args:
            if aname not in nd.args:
                add(
                    SchemaChange(
                        Severity.BREAKING,
                        "DIRECTIVE_ARGUMENT_REMOVED",
                        path,
                        f"argument {aname} of {path} was removed",
                    )
                )
        for aname, arg in nd.args.items():
            if aname not in d.args and _is_required(arg):
                add(
                    SchemaChange(
                        Severity.BREAKING,
                        "REQUIRED_DIRECTIVE_ARGUMENT_ADDED",
                        path,
                        f"required argument {aname} was added to {path}",
                    )
                )


def _is_required(value: GraphQLArgument | GraphQLInputField) -> bool:
    return is_non_null_type(value.type) and value.default_value is Undefined


def _safe_output_change(old: GraphQLType, new: GraphQLType) -> bool:
    """A field may become more specific (non-null, a member type) without breaking clients."""
    if isinstance(old, GraphQLList):
        return (isinstance(new, GraphQLList) and _safe_output_change(old.of_type, new.of_type)) or (
            isinstance(new, GraphQLNonNull) and _safe_output_change(old, new.of_type)
        )
    if isinstance(old, GraphQLNonNull):
        return isinstance(new, GraphQLNonNull) and _safe_output_change(old.of_type, new.of_type)
    if isinstance(new, GraphQLNonNull):
        return _safe_output_change(old, new.of_type)
    return _named(old) == _named(new) and not isinstance(new, GraphQLList)


def _safe_input_change(old: GraphQLType, new: GraphQLType) -> bool:
    """An argument may become more permissive (nullable) without breaking clients."""
    if isinstance(old, GraphQLList):
        return isinstance(new, GraphQLList) and _safe_input_change(old.of_type, new.of_type)
    if isinstance(old, GraphQLNonNull):
        if isinstance(new, GraphQLNonNull):
            return _safe_input_change(old.of_type, new.of_type)
        return _safe_input_change(old.of_type, new)
    if isinstance(new, GraphQLNonNull | GraphQLList):
        return False
    return _named(old) == _named(new)


def _named(t: GraphQLType) -> str:
    return getattr(t, "name", str(t))
