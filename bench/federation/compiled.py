"""A compiled executor for the benchmark subgraphs.

graphql-core parses and validates each distinct document once; this module then compiles
the operation into a tree of closures, one per field of each selection set and concrete
type, so that executing it is a walk over the resolved values with no per-field lookups of
the schema (the approach of graphql-jit). Every request still runs the resolvers, coerces
the variables and arguments, resolves abstract types and serializes scalars.

Anything the compiler does not handle (directives on selections, subscriptions, mutations)
raises :class:`Unsupported` at compile time, and any error during execution (a resolver
raising, null in a non-null position, a value a scalar cannot serialize) raises
:class:`Fallback`: the caller then runs graphql-core's own executor, which produces the
spec's partial results and error list.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.execution.values import get_argument_values, get_variable_values


class Unsupported(Exception):
    """The operation uses something this compiler leaves to graphql-core."""


class Fallback(Exception):
    """Execution met an error: let graphql-core produce the spec's response."""


TypeResolver = Callable[[Any], str | None]
Exec = Callable[[Any], Any]


class _Request:
    """Per-execution state shared by the compiled closures (execution is synchronous)."""

    variables: Any = None


def _serializer(t: GraphQLScalarType) -> Callable[[Any], Any]:
    if t is GraphQLString:
        return lambda v: v if type(v) is str else GraphQLString.serialize(v)
    if t is GraphQLInt:
        return lambda v: v if type(v) is int else GraphQLInt.serialize(v)
    if t is GraphQLBoolean:
        return lambda v: v if type(v) is bool else GraphQLBoolean.serialize(v)
    if t is GraphQLID:
        return lambda v: v if type(v) is str else GraphQLID.serialize(v)
    if t is GraphQLFloat:
        return GraphQLFloat.serialize
    return t.serialize


class CompiledOperation:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation_name: str | None,
        type_resolver: TypeResolver,
    ) -> None:
        self.schema = schema
        self.type_resolver = type_resolver
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            ops = [o for o in ops if o.name and o.name.value == operation_name]
        if len(ops) != 1:
            raise Unsupported("operation selection")
        self.operation = ops[0]
        if self.operation.operation is not OperationType.QUERY:
            raise Unsupported("only queries are compiled")
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.state = _Request()
        query_type = schema.query_type
        assert query_type is not None
        self.root = self._selection(query_type, [self.operation.selection_set])

    # ------------------------------------------------------------------ compile
    def _collect(
        self, obj: GraphQLObjectType, sets: list[SelectionSetNode], out: dict[str, list[FieldNode]]
    ) -> None:
        for sel_set in sets:
            for sel in sel_set.selections:
                if sel.directives:
                    raise Unsupported("directives on selections")
                if isinstance(sel, FieldNode):
                    key = sel.alias.value if sel.alias else sel.name.value
                    out.setdefault(key, []).append(sel)
                elif isinstance(sel, InlineFragmentNode):
                    if sel.type_condition is None or self._applies(
                        obj, sel.type_condition.name.value
                    ):
                        self._collect(obj, [sel.selection_set], out)
                elif isinstance(sel, FragmentSpreadNode):
                    frag = self.fragments[sel.name.value]
                    if self._applies(obj, frag.type_condition.name.value):
                        self._collect(obj, [frag.selection_set], out)

    def _applies(self, obj: GraphQLObjectType, type_name: str) -> bool:
        if type_name == obj.name:
            return True
        t = self.schema.get_type(type_name)
        return isinstance(t, GraphQLAbstractType) and self.schema.is_sub_type(t, obj)

    def _selection(self, obj: GraphQLObjectType, sets: list[SelectionSetNode]) -> Exec:
        fields: dict[str, list[FieldNode]] = {}
        self._collect(obj, sets, fields)
        entries = [(key, self._field(obj, nodes)) for key, nodes in fields.items()]

        def run(source: Any) -> dict[str, Any]:
            return {key: fx(source) for key, fx in entries}

        return run

    def _field(self, obj: GraphQLObjectType, nodes: list[FieldNode]) -> Exec:
        node = nodes[0]
        name = node.name.value
        if name == "__typename":
            type_name = obj.name
            return lambda _source: type_name
        field_def = obj.fields[name]
        sub_sets = [n.selection_set for n in nodes if n.selection_set is not None]
        complete = self._completer(field_def.type, sub_sets)
        resolve = field_def.resolve
        state = self.state
        if resolve is None:

            def by_key(source: Any) -> Any:
                try:
                    return complete(source.get(name))
                except AttributeError as exc:
                    raise Fallback(str(exc)) from exc

            return by_key
        info = SimpleNamespace(field_name=name, parent_type=obj, schema=self.schema)
        if node.arguments or field_def.args:

            def with_args(source: Any) -> Any:
                args = get_argument_values(field_def, node, state.variables)
                try:
                    value = resolve(source, info, **args)
                except Exception as exc:
                    raise Fallback(str(exc)) from exc
                return complete(value)

            return with_args

        def plain(source: Any) -> Any:
            try:
                value = resolve(source, info)
            except Exception as exc:
                raise Fallback(str(exc)) from exc
            return complete(value)

        return plain

    def _completer(self, t: GraphQLOutputType, sub_sets: list[SelectionSetNode]) -> Exec:
        if isinstance(t, GraphQLNonNull):
            inner = self._completer(t.of_type, sub_sets)

            def non_null(value: Any) -> Any:
                if value is None:
                    raise Fallback("null in a non-null position")
                return inner(value)

            return non_null
        if isinstance(t, GraphQLList):
            item = self._completer(t.of_type, sub_sets)

            def as_list(value: Any) -> Any:
                if value is None:
                    return None
                return [item(v) for v in value]

            return as_list
        if isinstance(t, GraphQLScalarType):
            serialize = _serializer(t)

            def scalar(value: Any) -> Any:
                if value is None:
                    return None
                try:
                    return serialize(value)
                except Exception as exc:
                    raise Fallback(str(exc)) from exc

            return scalar
        if isinstance(t, GraphQLObjectType):
            run = self._selection(t, sub_sets)
            return lambda value: None if value is None else run(value)
        if isinstance(t, GraphQLAbstractType):
            plans: dict[str, Exec] = {}
            schema, type_resolver = self.schema, self.type_resolver

            def abstract(value: Any) -> Any:
                if value is None:
                    return None
                type_name = type_resolver(value)
                plan = plans.get(type_name) if type_name is not None else None
                if plan is None:
                    concrete = schema.get_type(type_name) if type_name else None
                    if not isinstance(concrete, GraphQLObjectType) or not schema.is_sub_type(
                        t, concrete
                    ):
                        raise Fallback(f"cannot resolve the type of {value!r}")
                    plan = plans[concrete.name] = self._selection(concrete, sub_sets)
                return plan(value)

            return abstract
        raise Unsupported(f"type {t}")

    # ------------------------------------------------------------------ execute
    def execute(self, inputs: dict[str, Any] | None) -> dict[str, Any]:
        coerced = get_variable_values(
            self.schema, self.operation.variable_definitions or (), inputs or {}
        )
        if isinstance(coerced, list):
            raise Fallback("variables")
        self.state.variables = coerced
        try:
            return self.root(None)
        finally:
            self.state.variables = None
