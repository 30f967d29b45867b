"""The API schema of a supergraph: what clients see.

Removes the ``link``/``join`` machinery, spec directives (@inaccessible, @tag, @link, @join__*)
and every element marked @inaccessible.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    Node,
    ObjectTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    parse,
    print_ast,
)

SPEC_DIRECTIVES = frozenset({"link", "inaccessible", "tag"})
SPEC_PREFIXES = ("join__", "link__")


def is_supergraph(sdl: str) -> bool:
    return "join__Graph" in sdl


def _spec_directive(name: str) -> bool:
    return name in SPEC_DIRECTIVES or name.startswith(SPEC_PREFIXES)


def _inaccessible(node: Node) -> bool:
    return any(d.name.value == "inaccessible" for d in getattr(node, "directives", None) or ())


def _clean_directives(directives: Any) -> tuple[DirectiveNode, ...]:
    return tuple(d for d in directives or () if not _spec_directive(d.name.value))


def _clean(node: Any, **changes: Any) -> Any:
    values = {k: getattr(node, k) for k in node.keys}
    values.update(changes)
    if "directives" in values and "directives" not in changes:
        values["directives"] = _clean_directives(values["directives"])
    values.pop("loc", None)
    return type(node)(**values)


def api_document(sdl: str) -> DocumentNode:
    """The API schema of a supergraph SDL, as a document (non-supergraph SDL passes through)."""
    document = parse(sdl, no_location=True)
    hidden = {
        d.name.value
        for d in document.definitions
        if isinstance(d, TypeDefinitionNode) and _inaccessible(d)
    }
    definitions: list[Any] = []
    for d in document.definitions:
        if isinstance(d, SchemaDefinitionNode):
            definitions.append(_clean(d, directives=()))
        elif isinstance(d, DirectiveDefinitionNode):
            if not _spec_directive(d.name.value):
                definitions.append(_clean(d))
        elif isinstance(d, TypeDefinitionNode):
            name = d.name.value
            if name in hidden or name.startswith(SPEC_PREFIXES):
                continue
            definitions.append(_clean_type(d, hidden))
        else:
            definitions.append(d)
    return DocumentNode(definitions=tuple(definitions))


def _clean_type(d: Any, hidden: set[str]) -> Any:
    changes: dict[str, Any] = {}
    if isinstance(d, ObjectTypeDefinitionNode | InterfaceTypeDefinitionNode):
        changes["fields"] = tuple(
            _clean(f, arguments=tuple(_clean(a) for a in f.arguments or () if not _inaccessible(a)))
            for f in d.fields or ()
            if not _inaccessible(f)
        )
        changes["interfaces"] = tuple(i for i in d.interfaces or () if i.name.value not in hidden)
    elif isinstance(d, UnionTypeDefinitionNode):
        changes["types"] = tuple(t for t in d.types or () if t.name.value not in hidden)
    elif isinstance(d, EnumTypeDefinitionNode):
        changes["values"] = tuple(_clean(v) for v in d.values or () if not _inaccessible(v))
    elif isinstance(d, InputObjectTypeDefinitionNode):
        changes["fields"] = tuple(_clean(f) for f in d.fields or () if not _inaccessible(f))
    return _clean(d, **changes)


def api_schema_sdl(sdl: str) -> str:
    """The API schema of a supergraph SDL, printed."""
    return print_ast(api_document(sdl)) + "\n"
