"""A small mutable schema model shared by subgraphs and the supergraph.

graphql-core's ``GraphQLSchema`` is built for execution and is awkward to edit; composition needs
to rename types, drop fields, remember which definition came from an ``extend`` and keep the
order in which elements first appeared. The model keeps values and types as graphql-core AST
nodes so that printing reuses graphql-core's printer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from graphql import (
    BooleanValueNode,
    EnumValueNode,
    ListTypeNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    ObjectFieldNode,
    ObjectValueNode,
    StringValueNode,
    TypeNode,
    ValueNode,
    print_ast,
)

TypeKind = Literal["OBJECT", "INTERFACE", "UNION", "ENUM", "INPUT_OBJECT", "SCALAR"]

KIND_LABEL: dict[str, str] = {
    "OBJECT": "Object Type",
    "INTERFACE": "Interface Type",
    "UNION": "Union Type",
    "ENUM": "Enum Type",
    "INPUT_OBJECT": "Input Object Type",
    "SCALAR": "Scalar Type",
}

DEFAULT_ROOT_NAMES: dict[str, str] = {
    "query": "Query",
    "mutation": "Mutation",
    "subscription": "Subscription",
}
BUILTIN_SCALARS = frozenset({"String", "Int", "Float", "Boolean", "ID"})
BUILTIN_DIRECTIVES = frozenset({"deprecated", "specifiedBy", "skip", "include", "oneOf"})


@dataclass
class Directive:
    """An applied directive: ``@name(arg: value, ...)``."""

    name: str
    args: dict[str, ValueNode] = field(default_factory=dict)
    on_extension: bool = False
    federation: bool = False  # a federation directive, ``name`` is its canonical name

    def arg(self, name: str) -> ValueNode | None:
        return self.args.get(name)

    def str_arg(self, name: str) -> str | None:
        value = self.args.get(name)
        if isinstance(value, StringValueNode):
            return value.value
        if isinstance(value, EnumValueNode):
            return value.value
        return None

    def bool_arg(self, name: str) -> bool | None:
        value = self.args.get(name)
        if isinstance(value, BooleanValueNode):
            return value.value
        return None

    def print(self) -> str:
        if not self.args:
            return f"@{self.name}"
        inner = ", ".join(f"{k}: {print_ast(v)}" for k, v in self.args.items())
        return f"@{self.name}({inner})"

    def same_as(self, other: Directive) -> bool:
        return self.name == other.name and value_key(self.args) == value_key(other.args)


@dataclass
class InputValue:
    """An argument or an input object field."""

    name: str
    type: TypeNode
    default: ValueNode | None = None
    description: str | None = None
    directives: list[Directive] = field(default_factory=list)

    def has(self, name: str, *, federation: bool | None = None) -> bool:
        return any(
            d.name == name and (federation is None or d.federation == federation)
            for d in self.directives
        )

    @property
    def required(self) -> bool:
        return isinstance(self.type, NonNullTypeNode) and self.default is None


@dataclass
class Field:
    """A field of an object or interface type."""

    name: str
    type: TypeNode
    parent: str
    args: dict[str, InputValue] = field(default_factory=dict)
    description: str | None = None
    directives: list[Directive] = field(default_factory=list)
    on_extension: bool = False

    @property
    def coordinate(self) -> str:
        return f"{self.parent}.{self.name}"

    def fed(self, name: str) -> Directive | None:
        for d in self.directives:
            if d.federation and d.name == name:
                return d
        return None

    def has_fed(self, name: str) -> bool:
        return self.fed(name) is not None

    def applied(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.name == name]


@dataclass
class EnumValue:
    name: str
    description: str | None = None
    directives: list[Directive] = field(default_factory=list)


@dataclass
class TypeDef:
    """A named type with the elements of every kind (only those of ``kind`` are used)."""

    kind: TypeKind
    name: str
    description: str | None = None
    directives: list[Directive] = field(default_factory=list)
    fields: dict[str, Field] = field(default_factory=dict)
    interfaces: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    values: dict[str, EnumValue] = field(default_factory=dict)
    input_fields: dict[str, InputValue] = field(default_factory=dict)
    has_definition: bool = False
    has_extension: bool = False

    def fed_all(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.federation and d.name == name]

    def has_fed(self, name: str) -> bool:
        return any(d.federation and d.name == name for d in self.directives)

    @property
    def is_composite(self) -> bool:
        return self.kind in ("OBJECT", "INTERFACE", "UNION")


@dataclass
class DirectiveDef:
    """A directive definition kept by name (custom and executable directives)."""

    name: str
    args: dict[str, InputValue] = field(default_factory=dict)
    locations: list[str] = field(default_factory=list)
    repeatable: bool = False
    description: str | None = None


# -- type references ------------------------------------------------------------------------


def named_type(name: str) -> NamedTypeNode:
    return NamedTypeNode(name=NameNode(value=name))


def base_name(t: TypeNode) -> str:
    while isinstance(t, NonNullTypeNode | ListTypeNode):
        t = t.type
    assert isinstance(t, NamedTypeNode)
    return t.name.value


def type_str(t: TypeNode) -> str:
    return print_ast(t)


def same_type(a: TypeNode, b: TypeNode) -> bool:
    return type_str(a) == type_str(b)


def rename_in_type(t: TypeNode, old: str, new: str) -> TypeNode:
    if isinstance(t, NonNullTypeNode):
        inner = rename_in_type(t.type, old, new)
        assert isinstance(inner, NamedTypeNode | ListTypeNode)
        return NonNullTypeNode(type=inner)
    if isinstance(t, ListTypeNode):
        return ListTypeNode(type=rename_in_type(t.type, old, new))
    assert isinstance(t, NamedTypeNode)
    return named_type(new) if t.name.value == old else t


# -- values ---------------------------------------------------------------------------------


def to_value(value: object) -> ValueNode:
    """A Python value as an AST value (``Enum`` for :class:`EnumLiteral`)."""
    if isinstance(value, EnumLiteral):
        return EnumValueNode(value=value.name)
    if isinstance(value, bool):
        return BooleanValueNode(value=value)
    if isinstance(value, str):
        return StringValueNode(value=value)
    if isinstance(value, list):
        return ListValueNode(values=tuple(to_value(v) for v in value))
    if isinstance(value, dict):
        return ObjectValueNode(
            fields=tuple(
                ObjectFieldNode(name=NameNode(value=k), value=to_value(v)) for k, v in value.items()
            )
        )
    raise TypeError(f"unsupported value {value!r}")


@dataclass(frozen=True)
class EnumLiteral:
    name: str


def value_key(value: object) -> str:
    """A canonical string for comparing values and argument maps."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{value_key(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, ObjectValueNode):
        return value_key({f.name.value: f.value for f in value.fields})
    if isinstance(value, ListValueNode):
        return "[" + ",".join(value_key(v) for v in value.values) + "]"
    if value is None:
        return "<none>"
    assert isinstance(value, ValueNode)
    return print_ast(value)


def make_directive(name: str, **args: object) -> Directive:
    """A directive application; ``None`` arguments are left out."""
    return Directive(name=name, args={k: to_value(v) for k, v in args.items() if v is not None})
