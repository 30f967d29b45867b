"""Field sets: the ``fields`` argument of @key, @requires and @provides."""

from __future__ import annotations

from collections.abc import Callable

from graphql import (
    FieldNode,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

from .model import Field, TypeDef, base_name


class FieldSetError(Exception):
    """A field set that does not parse or selects something that does not exist."""

    def __init__(self, message: str, *, invalid_type: bool = False, has_args: bool = False):
        super().__init__(message)
        self.invalid_type = invalid_type
        self.has_args = has_args


def parse_field_set(fields: str) -> SelectionSetNode:
    try:
        document = parse("{" + fields + "}", no_location=True)
    except GraphQLSyntaxError as exc:
        raise FieldSetError(f"Invalid field set: {exc.message}") from exc
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.selection_set


def collect_field_set(
    types: dict[str, TypeDef],
    parent: TypeDef,
    fields: str,
    *,
    include_implementations: bool = True,
    on_field: Callable[[TypeDef, Field, FieldNode], None] | None = None,
    for_key: bool = False,
) -> list[Field]:
    """The fields a field set selects, validating it against ``types``.

    Raises :class:`FieldSetError` with a message in the style of Apollo's when the field set is
    invalid. With ``include_implementations``, selecting an interface field also counts the
    same field of every implementation of that interface.
    """
    selection = parse_field_set(fields)
    collected: list[Field] = []

    def walk(type_def: TypeDef, sel: SelectionSetNode) -> None:
        for node in sel.selections:
            if isinstance(node, FieldNode):
                name = node.name.value
                if name == "__typename":
                    continue
                if type_def.kind not in ("OBJECT", "INTERFACE"):
                    raise FieldSetError(f'Cannot query field "{name}" on type "{type_def.name}".')
                fdef = type_def.fields.get(name)
                if fdef is None:
                    hint = (
                        "the field should either be added to this subgraph or, if it should "
                        "not be resolved by this subgraph, you need to add it to this "
                        "subgraph with @external"
                        if for_key
                        else "if the field is defined in another subgraph, you need to add it "
                        "to this subgraph with @external"
                    )
                    raise FieldSetError(
                        f'Cannot query field "{name}" on type "{type_def.name}" ({hint}).'
                    )
                if on_field is not None:
                    on_field(type_def, fdef, node)
                collected.append(fdef)
                if include_implementations and type_def.kind == "INTERFACE":
                    for impl in types.values():
                        if impl.kind == "OBJECT" and type_def.name in impl.interfaces:
                            other = impl.fields.get(name)
                            if other is not None:
                                collected.append(other)
                target = types.get(base_name(fdef.type))
                if node.selection_set is not None:
                    if target is None or not target.is_composite:
                        raise FieldSetError(
                            f'Field "{fdef.coordinate}" must not have a selection since type '
                            f'"{base_name(fdef.type)}" has no subfields.'
                        )
                    walk(target, node.selection_set)
                elif target is not None and target.is_composite:
                    raise FieldSetError(
                        f'Field "{fdef.coordinate}" of type "{base_name(fdef.type)}" must have a '
                        "selection of subfields."
                    )
            elif isinstance(node, InlineFragmentNode):
                target_def = type_def
                if node.type_condition is not None:
                    cond = types.get(node.type_condition.name.value)
                    if cond is None:
                        raise FieldSetError(
                            f'Unknown type "{node.type_condition.name.value}" in field set.'
                        )
                    target_def = cond
                walk(target_def, node.selection_set)
            else:
                raise FieldSetError("Field sets cannot use named fragments.")

    walk(parent, selection)
    return collected
