"""JSON Schemas for a tool: its input from an operation's variable definitions, its output
from the operation's selection set, both read against the API schema.

A model fills in the input and reads the output, so the schemas carry the schema's
descriptions, enum values and defaults; nullable GraphQL types are optional (input) or may
be null (output).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeNode,
    type_from_ast,
    value_from_ast,
)
from graphql.pyutils import Undefined as _UNDEFINED

SCALARS: dict[str, dict[str, Any]] = {
    "Int": {"type": "integer"},
    "Float": {"type": "number"},
    "String": {"type": "string"},
    "Boolean": {"type": "boolean"},
    "ID": {"type": "string"},
    "DateTime": {"type": "string", "format": "date-time"},
}


def _described(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
    if description:
        schema["description"] = description
    return schema


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def input_type_schema(t: GraphQLInputType, depth: int = 0) -> dict[str, Any]:
    """The JSON Schema of a GraphQL input type (non-null types are required by the caller)."""
    if isinstance(t, GraphQLNonNull):
        return input_type_schema(t.of_type, depth)
    if isinstance(t, GraphQLList):
        return {"type": "array", "items": input_type_schema(t.of_type, depth)}
    if isinstance(t, GraphQLEnumType):
        return _described({"type": "string", "enum": list(t.values)}, t.description)
    if isinstance(t, GraphQLScalarType):
        # the built-in scalars' descriptions say nothing a model needs
        return _described(
            dict(SCALARS.get(t.name, {})), None if t.name in SCALARS else t.description
        )
    assert isinstance(t, GraphQLInputObjectType)
    if depth > 4:  # recursive input types: the rest is free-form
        return {"type": "object"}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in t.fields.items():
        prop = _described(input_type_schema(field.type, depth + 1), field.description)
        if isinstance(field.type, GraphQLNonNull) and field.default_value is _UNDEFINED:
            required.append(name)
        properties[name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return _described(schema, t.description)


def input_schema(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    descriptions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The tool's input: one property per variable; required when non-null without a
    default."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        t = type_from_ast(schema, definition.type)
        if t is None:
            continue
        prop = input_type_schema(t)  # type: ignore[arg-type]
        if definition.default_value is not None:
            default = value_from_ast(definition.default_value, t)  # type: ignore[arg-type]
            if default is not _UNDEFINED:
                prop["default"] = default
        elif _non_null(definition.type):
            required.append(name)
        if descriptions and name in descriptions:
            prop["description"] = descriptions[name]
        properties[name] = prop
    out: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        out["required"] = required
    out["additionalProperties"] = False
    return out


def _non_null(node: TypeNode) -> bool:
    return node.kind == "non_null_type"


def output_schema(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, Any]:
    """The tool's structured output: the operation's `data` as its selection set shapes it."""
    root = schema.get_root_type(operation.operation)
    assert root is not None
    return _selection(schema, root, operation.selection_set, fragments)


def _selection(
    schema: GraphQLSchema,
    parent: GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType,
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    _collect(schema, parent, selection_set, fragments, properties, set())
    return {"type": "object", "properties": properties}


def _collect(
    schema: GraphQLSchema,
    parent: GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType,
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    properties: dict[str, Any],
    seen: set[str],
) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            key = selection.alias.value if selection.alias else selection.name.value
            if selection.name.value == "__typename":
                properties[key] = {"type": "string"}
                continue
            fields = getattr(parent, "fields", {})
            field = fields.get(selection.name.value)
            if field is None:
                properties.setdefault(key, {})
                continue
            properties[key] = _described(
                _output(schema, field.type, selection.selection_set, fragments),
                field.description,
            )
        elif isinstance(selection, InlineFragmentNode):
            target = parent
            if selection.type_condition is not None:
                found = schema.get_type(selection.type_condition.name.value)
                if isinstance(found, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
                    target = found
            _collect(schema, target, selection.selection_set, fragments, properties, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in seen:
                continue
            found = schema.get_type(fragment.type_condition.name.value)
            target = (
                found
                if isinstance(found, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
                else parent
            )
            _collect(schema, target, fragment.selection_set, fragments, properties, seen | {name})


def _output(
    schema: GraphQLSchema,
    t: GraphQLOutputType,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, Any]:
    if isinstance(t, GraphQLNonNull):
        return _base(schema, t.of_type, selection_set, fragments)
    base = _base(schema, t, selection_set, fragments)
    return _nullable(base) if base else base


def _base(
    schema: GraphQLSchema,
    t: GraphQLOutputType,
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
) -> dict[str, Any]:
    if isinstance(t, GraphQLList):
        return {"type": "array", "items": _output(schema, t.of_type, selection_set, fragments)}
    if isinstance(t, GraphQLEnumType):
        return {"type": "string", "enum": list(t.values)}
    if isinstance(t, GraphQLScalarType):
        return dict(SCALARS.get(t.name, {}))  # a custom scalar: any JSON value
    if selection_set is not None and isinstance(
        t, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
    ):
        return _selection(schema, t, selection_set, fragments)
    return {"type": "object"}
