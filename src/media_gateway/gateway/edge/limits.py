"""Operation limits and static cost, checked before any subgraph is called.

Two passes. `prescan` looks at the raw text with C-speed string operations only (size,
a lower bound of the token count, aliases, selection-set nesting) so that a hostile
document is refused without being parsed. `measure` walks the parsed, validated operation
(fragments expanded, memoized per fragment) for the exact depth, aliases, root fields and
directives per field. `estimate_cost` computes a static cost from the supergraph's
`@cost` / `@listSize` directives, with defaults where there are none.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)
from graphql.type import GraphQLOutputType, get_named_type

from ..operation import fragment_order
from .config import LimitsConfig

# strings and comments (their braces, colons and parentheses are not syntax)
_STRINGS_AND_COMMENTS = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|#[^\n\r]*')
# argument lists and variable definitions never nest parentheses
_PARENS = re.compile(r"\([^()]*\)")
_NOT_BRACES = re.compile(r"[^{}]+")
_INLINE_FRAGMENT = re.compile(r"\.\.\.\s*(?:on\b|@|\{)")

LIST_SIZE_ARGUMENTS = ("first", "last", "limit", "pageSize", "take")


@dataclass(frozen=True)
class LimitError:
    message: str
    code: str
    limit: int | None = None
    actual: int | None = None

    def to_dict(self) -> dict[str, Any]:
        ext: dict[str, Any] = {"code": self.code}
        if self.limit is not None:
            ext["limit"] = self.limit
        if self.actual is not None:
            ext["actual"] = self.actual
        return {"message": self.message, "extensions": ext}


def prescan(query: str, limits: LimitsConfig) -> LimitError | None:
    """Refuse documents that break a limit, judging from the text alone (no parsing).

    Every check is conservative: it refuses only what the exact checks would refuse too.
    """
    size = len(query)
    limit = limits.max_document_bytes
    # a character is at least one byte: encode only when the characters alone do not decide
    if limit is not None and (size > limit or (size * 4 > limit and len(query.encode()) > limit)):
        return LimitError(
            f"The document is more than {limit} bytes long.", "DOCUMENT_TOO_LARGE", limit
        )
    text = query
    if '"' in text or "#" in text:
        text = _STRINGS_AND_COMMENTS.sub(" ", text)
    colons = text.count(":")
    if limits.max_tokens is not None:
        # every colon follows a name; braces and parentheses are tokens of their own
        lower = 2 * colons
        if lower <= limits.max_tokens:
            lower += text.count("{") + text.count("}") + text.count("(") + text.count(")")
        if lower > limits.max_tokens:
            return LimitError(
                f"The document has more than {limits.max_tokens} tokens.",
                "MAX_TOKENS_LIMIT",
                limits.max_tokens,
            )
    if "(" in text:
        text = _PARENS.sub("", text)
        colons = text.count(":")
    # outside arguments and variable definitions, a colon is an alias
    if limits.max_aliases is not None and colons > limits.max_aliases:
        return LimitError(
            f"The operation has {colons} aliases; the limit is {limits.max_aliases}.",
            "MAX_ALIASES_LIMIT",
            limits.max_aliases,
            colons,
        )
    if limits.max_depth is not None and text.count("{") > limits.max_depth:
        braces = _NOT_BRACES.sub("", text)
        # an inline fragment nests a selection set without nesting a field
        allowance = len(_INLINE_FRAGMENT.findall(text)) if "..." in text else 0
        nesting = _brace_depth(braces, limits.max_depth + allowance + 1)
        if nesting - allowance > limits.max_depth:
            return LimitError(
                f"The operation is nested more than {limits.max_depth} levels deep.",
                "MAX_DEPTH_LIMIT",
                limits.max_depth,
            )
    return None


def _brace_depth(braces: str, stop: int) -> int:
    """Nesting depth of a string of braces (each pass removes the innermost pairs)."""
    depth = 0
    while braces and depth < stop:
        shorter = braces.replace("{}", "")
        if len(shorter) == len(braces):  # unbalanced: the parser will report it
            return 0
        braces = shorter
        depth += 1
    return depth


# the largest integer every JSON reader holds exactly: bigger figures are reported as this
MAX_REPORTED = 2**53 - 1


@dataclass
class _Shape:
    """What a selection set amounts to once its fragments are expanded."""

    fields: int = 0  # fields after expansion (arbitrary precision: it can be astronomical)
    depth: int = 0
    aliases: int = 0
    directives: int = 0
    root_fields: int = 0  # fields at this level, through fragments, not counting __typename
    introspection: bool = False  # __schema or __type at this level


@dataclass(frozen=True)
class Measures:
    depth: int
    aliases: int
    root_fields: int
    directives_per_field: int
    # fields of the operation with every fragment expanded: what planning would work through
    fields: int = 0
    introspection: bool = False


def measure(document: DocumentNode, operation: OperationDefinitionNode) -> Measures:
    """Measure an operation in time linear in the document: each fragment is summarised once,
    after the fragments it spreads, and its summary reused at every spread."""
    memo: dict[str, _Shape] = {}

    def shape(sel: SelectionSetNode | None) -> _Shape:
        out = _Shape()
        if sel is None:
            return out
        for s in sel.selections:
            if isinstance(s, FieldNode):
                sub = shape(s.selection_set)
                name = s.name.value
                out.fields += 1 + sub.fields
                out.depth = max(out.depth, 1 + sub.depth)
                out.aliases += sub.aliases + (1 if s.alias is not None else 0)
                out.directives = max(out.directives, sub.directives, len(s.directives or ()))
                out.root_fields += 0 if name == "__typename" else 1
                out.introspection = out.introspection or name in ("__schema", "__type")
                continue
            if isinstance(s, InlineFragmentNode):
                sub = shape(s.selection_set)
            elif isinstance(s, FragmentSpreadNode):
                cached = memo.get(s.name.value)
                if cached is None:  # unknown or on a cycle: validation reports it
                    continue
                sub = cached
            else:  # pragma: no cover
                continue
            out.fields += sub.fields
            out.depth = max(out.depth, sub.depth)
            out.aliases += sub.aliases
            out.directives = max(out.directives, sub.directives)
            out.root_fields += sub.root_fields
            out.introspection = out.introspection or sub.introspection
        return out

    for fragment in fragment_order(document):
        memo[fragment.name.value] = shape(fragment.selection_set)
    total = shape(operation.selection_set)
    return Measures(
        total.depth,
        total.aliases,
        total.root_fields,
        total.directives,
        total.fields,
        total.introspection,
    )


def reported(n: int) -> int:
    """A figure as errors report it: clamped to what JSON readers hold exactly."""
    return min(n, MAX_REPORTED)


def figure(n: int) -> str:
    return f"more than {MAX_REPORTED}" if n > MAX_REPORTED else str(n)


def check_measures(m: Measures, limits: LimitsConfig) -> LimitError | None:
    checks = (
        (
            limits.max_expanded_fields,
            m.fields,
            "MAX_EXPANDED_FIELDS_LIMIT",
            "The operation selects {a} fields once its fragments are expanded",
        ),
        (limits.max_depth, m.depth, "MAX_DEPTH_LIMIT", "The operation is {a} levels deep"),
        (limits.max_aliases, m.aliases, "MAX_ALIASES_LIMIT", "The operation has {a} aliases"),
        (
            limits.max_root_fields,
            m.root_fields,
            "MAX_ROOT_FIELDS_LIMIT",
            "The operation selects {a} root fields",
        ),
        (
            limits.max_directives_per_field,
            m.directives_per_field,
            "MAX_DIRECTIVES_LIMIT",
            "A field of the operation carries {a} directives",
        ),
    )
    for limit, actual, code, text in checks:
        if limit is not None and actual > limit:
            return LimitError(
                text.format(a=figure(actual)) + f"; the limit is {limit}.",
                code,
                limit,
                reported(actual),
            )
    return None


def selects_introspection(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    return measure(document, operation).introspection


def only_introspection(document: DocumentNode, operation: OperationDefinitionNode) -> bool:
    return all(
        isinstance(s, FieldNode) and s.name.value in ("__schema", "__type", "__typename")
        for s in operation.selection_set.selections
    )


# ------------------------------------------------------------------------------ cost
def _directive(node: Any, *names: str) -> DirectiveNode | None:
    for d in getattr(node, "directives", None) or ():
        if isinstance(d, DirectiveNode) and d.name.value in names:
            return d
    return None


def _int_arg(d: DirectiveNode, name: str) -> int | None:
    for a in d.arguments or ():
        if a.name.value == name and isinstance(a.value, IntValueNode):
            return int(a.value.value)
    return None


def _str_list_arg(d: DirectiveNode, name: str) -> list[str]:
    from graphql import ListValueNode, StringValueNode

    for a in d.arguments or ():
        if a.name.value == name:
            v = a.value
            if isinstance(v, ListValueNode):
                return [x.value for x in v.values if isinstance(x, StringValueNode)]
            if isinstance(v, StringValueNode):
                return [v.value]
    return []


class CostModel:
    """Static cost of operations against one schema (the supergraph's, with directives).

    A composite field costs 1 (a mutation root field 10), a leaf 0, unless `@cost(weight:)`
    on the field or its type says otherwise; a list multiplies its items' cost by the value
    of a slicing argument (`@listSize(slicingArguments:)`, else first/last/limit), else
    `@listSize(assumedSize:)`, else the configured default list size.
    """

    # operations whose costs are kept (each with up to _COSTS_PER_OPERATION variable sets)
    _OPERATIONS_KEPT = 1000
    _COSTS_PER_OPERATION = 64

    def __init__(self, schema: GraphQLSchema, default_list_size: int = 10) -> None:
        self.schema = schema
        self.default_list_size = default_list_size
        self._field_info: dict[tuple[str, str], tuple[int | None, DirectiveNode | None]] = {}
        # per parsed operation (documents are cached and reused by the router): its variable
        # names and its cost for each set of integer variable values, the only values a
        # cost depends on
        self._costs: OrderedDict[
            int, tuple[OperationDefinitionNode, tuple[str, ...], dict[tuple[Any, ...], int]]
        ] = OrderedDict()

    def _info(self, parent: str, name: str, fdef: GraphQLField) -> tuple[int | None, Any]:
        key = (parent, name)
        hit = self._field_info.get(key)
        if hit is None:
            node = fdef.ast_node
            weight = None
            d = _directive(node, "cost", "federation__cost")
            if d is not None:
                weight = _int_arg(d, "weight")
            if weight is None:
                t = get_named_type(fdef.type)
                td = _directive(t.ast_node, "cost", "federation__cost") if t else None
                if td is not None:
                    weight = _int_arg(td, "weight")
            hit = self._field_info[key] = (
                weight,
                _directive(node, "listSize", "federation__listSize"),
            )
        return hit

    def cost(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> int:
        """The operation's cost (an exact integer, however large), each fragment costed once;
        worked out once per operation and set of integer variable values."""
        entry = self._costs.get(id(operation))
        if entry is None or entry[0] is not operation:
            names = tuple(d.variable.name.value for d in operation.variable_definitions or ())
            entry = self._costs[id(operation)] = (operation, names, {})
            if len(self._costs) > self._OPERATIONS_KEPT:
                self._costs.popitem(last=False)
        _op, names, known = entry
        key = tuple(_int_value(variables.get(n)) for n in names)
        cost = known.get(key)
        if cost is None:
            cost = self._cost(document, operation, variables)
            if len(known) >= self._COSTS_PER_OPERATION:
                known.clear()
            known[key] = cost
        return cost

    def _cost(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        mutation_type = self.schema.mutation_type
        memo: dict[str, int] = {}
        for frag in fragment_order(document):
            cond = self.schema.type_map.get(frag.type_condition.name.value)
            if cond is not None:
                memo[frag.name.value] = self._selection_cost(
                    cond, frag.selection_set, memo, variables, cond is mutation_type
                )
        mutation = operation.operation == OperationType.MUTATION
        return self._selection_cost(root, operation.selection_set, memo, variables, mutation)

    def _selection_cost(
        self,
        parent: Any,
        sel: SelectionSetNode,
        fragments: Mapping[str, int],
        variables: Mapping[str, Any],
        mutation_root: bool = False,
    ) -> int:
        total = 0
        for s in sel.selections:
            if isinstance(s, FieldNode):
                total += self._field_cost(parent, s, fragments, variables, mutation_root)
            elif isinstance(s, InlineFragmentNode):
                cond = (
                    self.schema.type_map.get(s.type_condition.name.value)
                    if s.type_condition
                    else parent
                )
                total += self._selection_cost(
                    cond or parent, s.selection_set, fragments, variables, mutation_root
                )
            elif isinstance(s, FragmentSpreadNode):
                total += fragments.get(s.name.value, 0)
        return total

    def _field_cost(
        self,
        parent: Any,
        node: FieldNode,
        fragments: Mapping[str, int],
        variables: Mapping[str, Any],
        mutation_root: bool,
    ) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        fdef = parent.fields.get(name)
        if fdef is None:
            return 0
        weight, list_size = self._info(parent.name, name, fdef)
        named = get_named_type(fdef.type)
        composite = isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
        if weight is None:
            weight = 10 if mutation_root else (1 if composite else 0)
        child = 0
        if node.selection_set is not None and composite:
            child = self._selection_cost(named, node.selection_set, fragments, variables)
        if _is_list(fdef.type):
            size = self._list_size(node, list_size, variables)
            return size * (weight + child) if not mutation_root else weight + size * child
        return weight + child

    def _list_size(
        self, node: FieldNode, list_size: DirectiveNode | None, variables: Mapping[str, Any]
    ) -> int:
        names: list[str] = list(LIST_SIZE_ARGUMENTS)
        assumed = None
        if list_size is not None:
            slicing = _str_list_arg(list_size, "slicingArguments")
            if slicing:
                names = slicing
            assumed = _int_arg(list_size, "assumedSize")
        sizes = [
            v
            for a in node.arguments or ()
            if a.name.value in names
            for v in [_arg_int(a.value, variables)]
            if v is not None
        ]
        if sizes:
            return max(0, max(sizes))
        return assumed if assumed is not None else self.default_list_size


def _int_value(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _arg_int(value: Any, variables: Mapping[str, Any]) -> int | None:
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, VariableNode):
        v = variables.get(value.name.value)
        return v if isinstance(v, int) and not isinstance(v, bool) else None
    return None


def _is_list(t: GraphQLOutputType) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)
