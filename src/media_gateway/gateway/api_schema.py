"""The router's API schema: what clients validate against and introspect.

It is the supergraph's API schema (``media_gateway.composition.api_schema``: the supergraph
without the federation machinery and every @inaccessible element) plus the directives the
router delivers itself, ``@defer`` and ``@stream``.
"""

from __future__ import annotations

from graphql import DirectiveDefinitionNode, DocumentNode, GraphQLSchema, build_ast_schema, parse

from media_gateway.composition.api_schema import Coordinate, api_document

_INCREMENTAL = parse(
    """
    "Delivers the fragment after the rest of the response, when `if` is true."
    directive @defer(label: String, if: Boolean! = true) on FRAGMENT_SPREAD | INLINE_FRAGMENT

    "Delivers the list's items after the first `initialCount`, when `if` is true."
    directive @stream(label: String, if: Boolean! = true, initialCount: Int = 0) on FIELD
    """
)


def build_api_schema(
    document: DocumentNode,
    directive_names: dict[str, str],
    inaccessible: set[Coordinate],
) -> GraphQLSchema:
    definitions = list(api_document(document, directive_names, inaccessible).definitions)
    # the router delivers @defer and @stream (incremental.py): clients see them
    defined = {d.name.value for d in definitions if isinstance(d, DirectiveDefinitionNode)}
    definitions += [
        d
        for d in _INCREMENTAL.definitions
        if isinstance(d, DirectiveDefinitionNode) and d.name.value not in defined
    ]
    return build_ast_schema(DocumentNode(definitions=tuple(definitions)), assume_valid_sdl=True)
