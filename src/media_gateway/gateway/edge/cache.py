"""A response cache for public data, driven by cache hints.

Hints come from `@cacheControl(maxAge:, scope:, inheritMaxAge:)` on types and fields of the
supergraph when present, and from the deployment's `cache_hints` ("Type" or "Type.field").
The policy of an operation follows the usual rules: a root field or a field returning a
composite type gets maxAge 0 unless hinted (or `inheritMaxAge`), a leaf field inherits its
parent's; the operation's maxAge is the least of all, its scope PRIVATE if any hint says
so. Queries with maxAge > 0 are cached (PRIVATE ones per client) and the response carries
`Cache-Control: max-age=N, public|private`; anything else carries `no-store`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
)
from graphql.type import get_named_type

from ..operation import fragment_order
from .config import CacheHint


@dataclass(frozen=True)
class CachePolicy:
    max_age: int
    scope: str = "PUBLIC"

    @property
    def cacheable(self) -> bool:
        return self.max_age > 0

    def header(self) -> str:
        if not self.cacheable:
            return "no-store"
        return f"max-age={self.max_age}, {self.scope.lower()}"


NO_STORE = CachePolicy(0)


@dataclass(frozen=True)
class _Hint:
    max_age: int | None
    scope: str | None
    inherit: bool = False


def _directive_hint(node: Any) -> _Hint | None:
    for d in getattr(node, "directives", None) or ():
        if d.name.value not in ("cacheControl", "federation__cacheControl"):
            continue
        max_age = scope = None
        inherit = False
        for a in d.arguments or ():
            v = a.value
            if a.name.value == "maxAge" and isinstance(v, IntValueNode):
                max_age = int(v.value)
            elif a.name.value == "scope" and isinstance(v, EnumValueNode | StringValueNode):
                scope = v.value.upper()
            elif a.name.value == "inheritMaxAge" and isinstance(v, BooleanValueNode):
                inherit = v.value
        return _Hint(max_age, scope, inherit)
    return None


class CachePolicyModel:
    def __init__(self, schema: GraphQLSchema, hints: Mapping[str, CacheHint]) -> None:
        self.schema = schema
        self.hints = {k: _Hint(h.max_age, h.scope) for k, h in hints.items()}

    def _type_hint(self, name: str) -> _Hint | None:
        hint = self.hints.get(name)
        if hint is not None:
            return hint
        t = self.schema.type_map.get(name)
        return _directive_hint(t.ast_node) if t is not None else None

    def _field_hint(self, parent: str, name: str, fdef: Any) -> _Hint | None:
        return self.hints.get(f"{parent}.{name}") or _directive_hint(fdef.ast_node)

    def policy(self, document: DocumentNode, operation: OperationDefinitionNode) -> CachePolicy:
        """The operation's policy, each fragment summarised once (see `_Ages`)."""
        if operation.operation.value != "query":
            return NO_STORE
        root = self.schema.query_type
        if root is None:
            return NO_STORE
        memo: dict[str, _Ages] = {}
        for frag in fragment_order(document):
            cond = self.schema.type_map.get(frag.type_condition.name.value)
            if cond is not None:
                memo[frag.name.value] = self._ages(cond, frag.selection_set, root, memo)
        ages = self._ages(root, operation.selection_set, root, memo)
        if ages.fixed is None:  # at the root nothing inherits: there is no parent age
            return NO_STORE
        return CachePolicy(ages.fixed, "PRIVATE" if ages.private else "PUBLIC")

    def _ages(
        self, parent: Any, sel: SelectionSetNode, root: Any, fragments: Mapping[str, _Ages]
    ) -> _Ages:
        out = _Ages()
        for s in sel.selections:
            if isinstance(s, FieldNode):
                name = s.name.value
                if name.startswith("__") or not isinstance(
                    parent, GraphQLObjectType | GraphQLInterfaceType
                ):
                    continue
                fdef = parent.fields.get(name)
                if fdef is None:
                    continue
                named = get_named_type(fdef.type)
                composite = isinstance(
                    named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
                )
                hint = self._field_hint(parent.name, name, fdef)
                if (hint is None or hint.max_age is None) and composite:
                    type_hint = self._type_hint(named.name)
                    if type_hint is not None and (hint is None or hint.scope is None):
                        hint = _Hint(
                            type_hint.max_age,
                            type_hint.scope if hint is None else hint.scope,
                            hint.inherit if hint else False,
                        )
                if hint is not None and hint.scope == "PRIVATE":
                    out.private = True
                age: int | None  # None: the parent's age
                if hint is not None and hint.max_age is not None and not hint.inherit:
                    age = hint.max_age
                elif hint is not None and hint.inherit:
                    age = None
                elif composite or parent is root:
                    age = 0
                else:
                    age = None  # a leaf inherits its parent's
                sub = (
                    self._ages(named, s.selection_set, root, fragments)
                    if s.selection_set is not None and composite
                    else _Ages()
                )
                if age is None:
                    out.add(_Ages(None, True))
                    out.add(sub)  # children inheriting inherit what this field inherits
                else:
                    out.add(_Ages(age))
                    out.add(sub.under(age))
            elif isinstance(s, InlineFragmentNode):
                cond = (
                    self.schema.type_map.get(s.type_condition.name.value)
                    if s.type_condition
                    else parent
                )
                out.add(self._ages(cond or parent, s.selection_set, root, fragments))
            elif isinstance(s, FragmentSpreadNode):
                summary = fragments.get(s.name.value)
                if summary is not None:
                    out.add(summary)
        return out


@dataclass
class _Ages:
    """The cache ages a selection set contributes, its parent's age left open: the least
    fixed age, whether some field takes the parent's age, whether any hint is PRIVATE."""

    fixed: int | None = None
    inherits: bool = False
    private: bool = False

    def add(self, other: _Ages) -> None:
        if other.fixed is not None:
            self.fixed = other.fixed if self.fixed is None else min(self.fixed, other.fixed)
        self.inherits = self.inherits or other.inherits
        self.private = self.private or other.private

    def under(self, parent_age: int) -> _Ages:
        """These ages below a parent whose age is known."""
        out = _Ages(self.fixed, False, self.private)
        if self.inherits:
            out.add(_Ages(parent_age))
        return out


class ResponseCache:
    """In-process LRU of response bodies with per-entry expiry."""

    def __init__(self, size: int = 1000, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._d: OrderedDict[bytes, tuple[float, float, dict[str, Any]]] = OrderedDict()

    def get(self, key: bytes) -> tuple[dict[str, Any], int] | None:
        entry = self._d.get(key)
        if entry is None:
            return None
        stored, expires, body = entry
        now = self.clock()
        if now >= expires:
            del self._d[key]
            return None
        self._d.move_to_end(key)
        return body, int(now - stored)

    def put(self, key: bytes, body: dict[str, Any], max_age: int) -> None:
        now = self.clock()
        self._d[key] = (now, now + max_age, body)
        self._d.move_to_end(key)
        while len(self._d) > self.size:
            self._d.popitem(last=False)
