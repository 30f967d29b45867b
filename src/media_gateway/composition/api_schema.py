"""The API schema of a supergraph: what clients validate against and introspect.

It is the supergraph without the federation machinery (the link and join directives and
types, @inaccessible, @tag and the authorization directives, under whatever names the
supergraph's ``@link``s give them) and without every @inaccessible element or anything that
refers to a hidden type. The router builds its API schema from this document (adding the
directives it delivers itself, ``@defer`` and ``@stream``); ``schema diff`` compares two
supergraphs by it.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumValueNode,
    FieldDefinitionNode,
    GraphQLSchema,
    InputObjectTypeDefinitionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    ListValueNode,
    NamedTypeNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    SchemaDefinitionNode,
    StringValueNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    ValueNode,
    build_ast_schema,
    parse,
)
from graphql.language import TypeNode

# (type, field or enum value; None for the type itself)
Coordinate = tuple[str, str | None]

_MACHINERY_DIRECTIVES = {"link", "core"}
_SECURITY = ("authenticated", "requiresScopes", "policy")
_LINKED_SPECS = ("inaccessible", "tag", *_SECURITY)


def _arg(d: DirectiveNode, name: str) -> ValueNode | None:
    for a in d.arguments or ():
        if a.name.value == name:
            return a.value
    return None


def _str_arg(d: DirectiveNode, name: str) -> str | None:
    v = _arg(d, name)
    if isinstance(v, StringValueNode | EnumValueNode):
        return v.value
    return None


def spec_names(document: DocumentNode) -> dict[str, str]:
    """Spec-level directive names (``join__type``, ``inaccessible``, ...) mapped to the names
    the supergraph's ``@link``s give them."""
    names = {
        "join__type": "join__type",
        "join__field": "join__field",
        "join__graph": "join__graph",
        "join__implements": "join__implements",
        "join__unionMember": "join__unionMember",
        "join__enumValue": "join__enumValue",
        **{spec: spec for spec in _LINKED_SPECS},
    }
    for d in document.definitions:
        if not isinstance(d, SchemaDefinitionNode):
            continue
        for directive in d.directives or ():
            if directive.name.value not in ("link", "core"):
                continue
            url = _str_arg(directive, "url") or _str_arg(directive, "feature") or ""
            alias = _str_arg(directive, "as")
            spec = url.rstrip("/").split("/")[-2] if "/" in url else ""
            if spec == "join" and alias:
                for k in list(names):
                    if k.startswith("join__"):
                        names[k] = alias + "__" + k[len("join__") :]
            if spec in _LINKED_SPECS:
                names[spec] = alias or spec
                imported = _arg(directive, "import")
                if isinstance(imported, ListValueNode):
                    for item in imported.values:
                        if isinstance(item, StringValueNode) and item.value == "@" + spec:
                            names[spec] = spec
    return names


def inaccessible_elements(document: DocumentNode, names: dict[str, str]) -> set[Coordinate]:
    """The types, fields, input fields and enum values marked @inaccessible."""
    mark = names["inaccessible"]
    found: set[Coordinate] = set()

    def marked(node: Any) -> bool:
        return any(d.name.value == mark for d in node.directives or ())

    for d in document.definitions:
        if not isinstance(d, TypeDefinitionNode | ObjectTypeExtensionNode):
            continue
        name = d.name.value
        if marked(d):
            found.add((name, None))
        if isinstance(
            d,
            ObjectTypeDefinitionNode
            | InterfaceTypeDefinitionNode
            | ObjectTypeExtensionNode
            | InputObjectTypeDefinitionNode,
        ):
            found |= {(name, f.name.value) for f in d.fields or () if marked(f)}
        if isinstance(d, EnumTypeDefinitionNode):
            found |= {(name, v.name.value) for v in d.values or () if marked(v)}
    return found


def _type_name(t: TypeNode) -> str:
    while not isinstance(t, NamedTypeNode):
        t = t.type  # type: ignore[attr-defined]
    return t.name.value


def api_document(
    document: DocumentNode,
    directive_names: dict[str, str] | None = None,
    inaccessible: set[Coordinate] | None = None,
) -> DocumentNode:
    """The API schema of a supergraph document (``directive_names`` and ``inaccessible`` are
    read from it when not given)."""
    names = directive_names if directive_names is not None else spec_names(document)
    hidden = inaccessible if inaccessible is not None else inaccessible_elements(document, names)
    join_prefix = names["join__type"].split("__")[0] + "__"
    machinery = set(_MACHINERY_DIRECTIVES) | {
        d.name.value
        for d in document.definitions
        if isinstance(d, DirectiveDefinitionNode) and d.name.value.startswith(join_prefix)
    }
    machinery |= {names["inaccessible"], names["tag"]}
    machinery |= {names[k] for k in _SECURITY}
    security_types = {names[k] + "__" for k in _SECURITY}
    hidden_types = {t for t, f in hidden if f is None}

    def machinery_type(name: str) -> bool:
        return (
            name.startswith(("join__", "link__", "core__", *security_types))
            or name in hidden_types
            or any(name.startswith(v.split("__")[0] + "__") for v in machinery if "__" in v)
        )

    def keep_directives(nodes: Any) -> tuple[Any, ...]:
        return tuple(d for d in nodes or () if d.name.value not in machinery)

    def keep_args(args: Any) -> tuple[Any, ...]:
        out = []
        for a in args or ():
            if any(d.name.value == names["inaccessible"] for d in a.directives or ()):
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
            if d.name.value not in machinery:
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
            kwargs["fields"] = tuple(
                FieldDefinitionNode(
                    name=f.name,
                    description=f.description,
                    arguments=keep_args(f.arguments),
                    type=f.type,
                    directives=keep_directives(f.directives),
                )
                for f in d.fields or ()
                if (name, f.name.value) not in hidden and _type_name(f.type) not in hidden_types
            )
            kwargs["interfaces"] = tuple(
                i for i in d.interfaces or () if i.name.value not in hidden_types
            )
            definitions.append(type(d)(**kwargs))
        elif isinstance(d, InputObjectTypeDefinitionNode):
            kwargs["fields"] = tuple(
                f for f in keep_args(d.fields) if (name, f.name.value) not in hidden
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
                if (name, v.name.value) not in hidden
            )
            definitions.append(EnumTypeDefinitionNode(**kwargs))
        elif isinstance(d, UnionTypeDefinitionNode):
            kwargs["types"] = tuple(t for t in d.types or () if t.name.value not in hidden_types)
            definitions.append(UnionTypeDefinitionNode(**kwargs))
        else:
            definitions.append(type(d)(**kwargs))
    return DocumentNode(definitions=tuple(definitions))


def api_schema(sdl: str) -> GraphQLSchema:
    """The API schema of a supergraph SDL."""
    return build_ast_schema(api_document(parse(sdl, no_location=True)), assume_valid_sdl=True)
