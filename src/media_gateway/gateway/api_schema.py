"""The API schema: what clients validate against and introspect.

It is the supergraph with the federation machinery (link/join directives and types) and every
@inaccessible element removed.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    FieldDefinitionNode,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    parse,
)
from graphql.language import TypeNode

_MACHINERY_DIRECTIVES = {"link", "core"}
_INCREMENTAL = parse(
    """
    "Delivers the fragment after the rest of the response, when `if` is true."
    directive @defer(label: String, if: Boolean! = true) on FRAGMENT_SPREAD | INLINE_FRAGMENT

    "Delivers the list's items after the first `initialCount`, when `if` is true."
    directive @stream(label: String, if: Boolean! = true, initialCount: Int = 0) on FIELD
    """
)


def _type_name(t: TypeNode) -> str:
    while not isinstance(t, NamedTypeNode):
        t = t.type  # type: ignore[attr-defined]
    return t.name.value


def build_api_schema(
    document: DocumentNode,
    directive_names: dict[str, str],
    inaccessible: set[tuple[str, str | None]],
) -> GraphQLSchema:
    join_prefix = directive_names["join__type"].split("__")[0] + "__"
    machinery = set(_MACHINERY_DIRECTIVES) | {
        d.name.value
        for d in document.definitions
        if isinstance(d, DirectiveDefinitionNode) and d.name.value.startswith(join_prefix)
    }
    security = ("authenticated", "requiresScopes", "policy")
    machinery |= {directive_names["inaccessible"], directive_names["tag"]}
    machinery |= {directive_names[k] for k in security}
    security_types = {directive_names[k] + "__" for k in security}
    hidden_types = {t for t, f in inaccessible if f is None}

    def machinery_type(name: str) -> bool:
        return (
            name.startswith(("join__", "link__", "core__", *security_types))
            or name in hidden_types
            or any(name.startswith(v.split("__")[0] + "__") for v in machinery if "__" in v)
        )

    def keep_directives(nodes: Any) -> tuple[Any, ...]:
        return tuple(d for d in nodes or () if d.name.value not in machinery)

    def keep_args(owner: str, args: Any) -> tuple[Any, ...]:
        out = []
        for a in args or ():
            if any(d.name.value == directive_names["inaccessible"] for d in a.directives or ()):
                continue
            if _type_name(a.type) in hidden_types:
                continue
            out.append(
                InputValueDefinitionNode(
                    name=a.name,
                    description=a.description,
                    type=a.type,
                    default_value=a.default_value,
                    directives=keep_directives(a.directives),
                )
            )
        return tuple(out)

    definitions: list[Any] = []
    for d in document.definitions:
        if isinstance(d, DirectiveDefinitionNode):
            if d.name.value in machinery:
                continue
            definitions.append(d)
            continue
        if isinstance(d, SchemaDefinitionNode):
            definitions.append(
                SchemaDefinitionNode(
                    description=d.description,
                    directives=keep_directives(d.directives),
                    operation_types=d.operation_types,
                )
            )
            continue
        if not isinstance(d, TypeDefinitionNode):
            definitions.append(d)
            continue
        name = d.name.value
        if machinery_type(name):
            continue
        kwargs: dict[str, Any] = {
            "name": d.name,
            "description": d.description,
            "directives": keep_directives(d.directives),
        }
        if isinstance(d, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
            fields = []
            for f in d.fields or ():
                if (name, f.name.value) in inaccessible:
                    continue
                if _type_name(f.type) in hidden_types:
                    continue
                fields.append(
                    FieldDefinitionNode(
                        name=f.name,
                        description=f.description,
                        arguments=keep_args(name, f.arguments),
                        type=f.type,
                        directives=keep_directives(f.directives),
                    )
                )
            kwargs["fields"] = tuple(fields)
            kwargs["interfaces"] = tuple(
                i for i in d.interfaces or () if i.name.value not in hidden_types
            )
            definitions.append(type(d)(**kwargs))
        elif isinstance(d, InputObjectTypeDefinitionNode):
            kwargs["fields"] = tuple(
                f for f in keep_args(name, d.fields) if (name, f.name.value) not in inaccessible
            )
            definitions.append(InputObjectTypeDefinitionNode(**kwargs))
        elif isinstance(d, EnumTypeDefinitionNode):
            kwargs["values"] = tuple(
                type(v)(
                    name=v.name,
                    description=v.description,
                    directives=keep_directives(v.directives),
                )
                for v in d.values or ()
                if (name, v.name.value) not in inaccessible
            )
            definitions.append(EnumTypeDefinitionNode(**kwargs))
        elif isinstance(d, UnionTypeDefinitionNode):
            kwargs["types"] = tuple(t for t in d.types or () if t.name.value not in hidden_types)
            definitions.append(UnionTypeDefinitionNode(**kwargs))
        else:
            definitions.append(type(d)(**kwargs))
    # the router delivers @defer and @stream (incremental.py): clients see them
    defined = {d.name.value for d in definitions if isinstance(d, DirectiveDefinitionNode)}
    definitions += [d for d in _INCREMENTAL.definitions if d.name.value not in defined]  # type: ignore[attr-defined]
    schema = build_ast_schema(DocumentNode(definitions=tuple(definitions)), assume_valid_sdl=True)
    return schema
