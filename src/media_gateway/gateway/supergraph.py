"""Supergraph loading: the join/link metadata of an Apollo Federation v2 supergraph.

A supergraph SDL carries, beside the types, which subgraph ("graph") defines each type,
resolves each field, and under which keys an entity can be fetched. This module reads that
metadata once into plain lookup tables and builds the API schema (what clients see).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumValueNode,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    build_ast_schema,
    get_named_type,
    parse,
)
from graphql.language import ListValueNode, ValueNode

from media_gateway.composition.api_schema import spec_names

# Directive names removed from the API schema (after link "as" renames are applied).
_MACHINERY_PREFIXES = ("join__", "link__")


class SupergraphError(ValueError):
    """The SDL is not a usable supergraph."""


@dataclass(frozen=True)
class Graph:
    enum_value: str
    name: str
    url: str


@dataclass(frozen=True)
class Key:
    fields: str
    selection: SelectionSetNode
    resolvable: bool


@dataclass(frozen=True)
class JoinField:
    graph: str | None
    requires: str | None = None
    provides: str | None = None
    type: str | None = None
    external: bool = False
    override: str | None = None
    override_label: str | None = None
    used_overridden: bool = False


@dataclass(frozen=True)
class Requirement:
    """@authenticated and @requiresScopes on a field or type: the caller must be
    authenticated, and hold every scope of at least one of the alternatives."""

    authenticated: bool = False
    scopes: tuple[frozenset[str], ...] = ()

    def denies(self, authenticated: bool, scopes: frozenset[str]) -> str | None:
        """The error code refusing the caller, or None when the caller may see it."""
        if (self.authenticated or self.scopes) and not authenticated:
            return "UNAUTHENTICATED"
        if self.scopes and not any(alt <= scopes for alt in self.scopes):
            return "FORBIDDEN"
        return None


@dataclass
class TypeInfo:
    name: str
    graphs: set[str] = field(default_factory=set)
    keys: dict[str, list[Key]] = field(default_factory=dict)
    interface_object_in: set[str] = field(default_factory=set)
    # interface name -> graphs declaring the implementation
    implements_in: dict[str, set[str]] = field(default_factory=dict)
    # union member name -> graphs declaring the membership
    members_in: dict[str, set[str]] = field(default_factory=dict)
    # field name -> join__field entries (empty list: bare @join__field, no graph resolves it)
    fields: dict[str, list[JoinField]] = field(default_factory=dict)


def parse_field_set(fields: str) -> SelectionSetNode:
    doc = parse("{" + fields + "}", no_location=True)
    op = doc.definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    return op.selection_set


def _arg(d: DirectiveNode, name: str) -> ValueNode | None:
    for a in d.arguments or ():
        if a.name.value == name:
            return a.value
    return None


def _str_arg(d: DirectiveNode, name: str) -> str | None:
    v = _arg(d, name)
    if isinstance(v, StringValueNode):
        return v.value
    if isinstance(v, EnumValueNode):
        return v.value
    return None


def _bool_arg(d: DirectiveNode, name: str, default: bool = False) -> bool:
    v = _arg(d, name)
    if isinstance(v, BooleanValueNode):
        return v.value
    return default


class Supergraph:
    """Join metadata plus the supergraph and API schemas."""

    def __init__(self, sdl: str) -> None:
        self.sdl = sdl
        try:
            self.document: DocumentNode = parse(sdl, no_location=True)
        except Exception as exc:
            raise SupergraphError(f"supergraph SDL does not parse: {exc}") from exc
        self._directive_names = spec_names(self.document)
        try:
            self.schema: GraphQLSchema = build_ast_schema(self.document, assume_valid_sdl=True)
        except Exception as exc:
            raise SupergraphError(f"supergraph SDL does not build: {exc}") from exc
        self.graphs: dict[str, Graph] = {}
        self._implements_cache: dict[tuple[str, str], bool] = {}
        self.types: dict[str, TypeInfo] = {}
        self.inaccessible: set[tuple[str, str | None]] = set()
        # (type, field or None for the whole type) -> what the caller needs
        self.requirements: dict[tuple[str, str | None], Requirement] = {}
        self._read_join_metadata()
        if not self.graphs:
            raise SupergraphError("supergraph declares no subgraphs (enum join__Graph)")
        self.api_schema: GraphQLSchema = self._build_api_schema()
        self.query_type = self.schema.query_type.name if self.schema.query_type else "Query"
        self.mutation_type = self.schema.mutation_type.name if self.schema.mutation_type else None
        self.subscription_type = (
            self.schema.subscription_type.name if self.schema.subscription_type else None
        )

    # -- link spec -------------------------------------------------------------------------

    # -- join metadata ---------------------------------------------------------------------
    def _read_join_metadata(self) -> None:
        n = self._directive_names
        for d in self.document.definitions:
            if isinstance(d, EnumTypeDefinitionNode) and d.name.value.endswith("__Graph"):
                for v in d.values or ():
                    for directive in v.directives or ():
                        if directive.name.value == n["join__graph"]:
                            self.graphs[v.name.value] = Graph(
                                v.name.value,
                                _str_arg(directive, "name") or v.name.value.lower(),
                                _str_arg(directive, "url") or "",
                            )
        for d in self.document.definitions:
            if not isinstance(d, TypeDefinitionNode) and not isinstance(d, ObjectTypeExtensionNode):
                continue
            name = d.name.value
            if name.startswith(_MACHINERY_PREFIXES) or name.endswith("__Graph"):
                continue
            info = self.types.setdefault(name, TypeInfo(name))
            for directive in d.directives or ():
                dn = directive.name.value
                if dn == n["join__type"]:
                    graph = _str_arg(directive, "graph")
                    if graph is None:
                        continue
                    info.graphs.add(graph)
                    key = _str_arg(directive, "key")
                    if key is not None:
                        info.keys.setdefault(graph, []).append(
                            Key(key, parse_field_set(key), _bool_arg(directive, "resolvable", True))
                        )
                    if _bool_arg(directive, "isInterfaceObject"):
                        info.interface_object_in.add(graph)
                elif dn == n["join__implements"]:
                    graph, iface = _str_arg(directive, "graph"), _str_arg(directive, "interface")
                    if graph and iface:
                        info.implements_in.setdefault(iface, set()).add(graph)
                elif dn == n["join__unionMember"]:
                    graph, member = _str_arg(directive, "graph"), _str_arg(directive, "member")
                    if graph and member:
                        info.members_in.setdefault(member, set()).add(graph)
                elif dn == n["inaccessible"]:
                    self.inaccessible.add((name, None))
                else:
                    self._record_requirement(dn, directive, name, None)
            if isinstance(
                d,
                ObjectTypeDefinitionNode
                | InterfaceTypeDefinitionNode
                | ObjectTypeExtensionNode
                | InputObjectTypeDefinitionNode,
            ):
                for f in d.fields or ():
                    entries: list[JoinField] | None = None
                    for directive in f.directives or ():
                        dn = directive.name.value
                        if dn == n["join__field"]:
                            entries = entries if entries is not None else []
                            entries.append(
                                JoinField(
                                    graph=_str_arg(directive, "graph"),
                                    requires=_str_arg(directive, "requires"),
                                    provides=_str_arg(directive, "provides"),
                                    type=_str_arg(directive, "type"),
                                    external=_bool_arg(directive, "external"),
                                    override=_str_arg(directive, "override"),
                                    override_label=_str_arg(directive, "overrideLabel"),
                                    used_overridden=_bool_arg(directive, "usedOverridden"),
                                )
                            )
                        elif dn == n["inaccessible"]:
                            self.inaccessible.add((name, f.name.value))
                        else:
                            self._record_requirement(dn, directive, name, f.name.value)
                    if entries is not None:
                        info.fields[f.name.value] = entries
            if isinstance(d, EnumTypeDefinitionNode):
                for v in d.values or ():
                    for directive in v.directives or ():
                        if directive.name.value == n["inaccessible"]:
                            self.inaccessible.add((name, v.name.value))
            if isinstance(d, UnionTypeDefinitionNode) and not info.members_in:
                # join v0.2 and older carry no @join__unionMember: every graph of the union
                # that also defines the member may return it.
                for t in d.types or ():
                    info.members_in[t.name.value] = set(info.graphs)

    def _record_requirement(
        self, directive_name: str, directive: DirectiveNode, type_name: str, field: str | None
    ) -> None:
        n = self._directive_names
        if directive_name == n["authenticated"]:
            req = self.requirements.get((type_name, field), Requirement())
            self.requirements[(type_name, field)] = Requirement(True, req.scopes)
        elif directive_name == n["requiresScopes"]:
            value = _arg(directive, "scopes")
            alternatives: list[frozenset[str]] = []
            if isinstance(value, ListValueNode):
                for group in value.values:
                    if isinstance(group, ListValueNode):
                        alternatives.append(
                            frozenset(
                                v.value for v in group.values if isinstance(v, StringValueNode)
                            )
                        )
            req = self.requirements.get((type_name, field), Requirement())
            self.requirements[(type_name, field)] = Requirement(
                req.authenticated, tuple(alternatives)
            )

    # -- API schema --------------------------------------------------------------------------
    def _build_api_schema(self) -> GraphQLSchema:
        from .api_schema import build_api_schema

        return build_api_schema(self.document, self._directive_names, self.inaccessible)

    # -- queries used by the planner -----------------------------------------------------------
    def named_type(self, name: str) -> GraphQLNamedType:
        t = self.schema.type_map.get(name)
        if t is None:
            raise KeyError(name)
        return t

    def type_info(self, name: str) -> TypeInfo:
        info = self.types.get(name)
        if info is None:
            info = self.types[name] = TypeInfo(name)
        return info

    def graphs_of_type(self, name: str) -> set[str]:
        info = self.types.get(name)
        if info is None or not info.graphs:
            return set(self.graphs)  # built-in or unannotated: everywhere
        return info.graphs

    def field_entries(self, type_name: str, field_name: str) -> list[JoinField]:
        """join__field entries, or one entry per graph of the type when none are given."""
        info = self.types.get(type_name)
        if info is not None and field_name in info.fields:
            return info.fields[field_name]
        t = self.schema.type_map.get(type_name)
        if (
            not isinstance(t, GraphQLObjectType | GraphQLInterfaceType)
            or field_name not in t.fields
        ):
            return []
        return [JoinField(graph=g) for g in sorted(self.graphs_of_type(type_name))]

    def possible_types_in_graph(self, abstract: str, graph: str) -> list[str]:
        """Object types that `graph` may return where `abstract` is expected."""
        t = self.schema.type_map.get(abstract)
        if isinstance(t, GraphQLObjectType):
            return [abstract]
        info = self.type_info(abstract)
        out: list[str] = []
        if isinstance(t, GraphQLUnionType):
            for member in t.types:
                if graph in info.members_in.get(member.name, set()):
                    out.append(member.name)
            return out
        if isinstance(t, GraphQLInterfaceType):
            for obj in self.schema.get_possible_types(t):
                oi = self.type_info(obj.name)
                graphs_impl = oi.implements_in.get(abstract)
                if graphs_impl is None:
                    # join v0.1: implementation known wherever both are defined
                    if graph in oi.graphs:
                        out.append(obj.name)
                elif graph in graphs_impl:
                    out.append(obj.name)
        return out

    def possible_types(self, abstract: str) -> list[str]:
        t = self.schema.type_map.get(abstract)
        if isinstance(t, GraphQLObjectType):
            return [abstract]
        if isinstance(t, GraphQLInterfaceType | GraphQLUnionType):
            return [o.name for o in self.schema.get_possible_types(t)]
        return []

    def is_abstract(self, name: str) -> bool:
        return isinstance(self.schema.type_map.get(name), GraphQLInterfaceType | GraphQLUnionType)

    def field_type_name(self, parent: str, field_name: str) -> str | None:
        t = self.schema.type_map.get(parent)
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            f = t.fields.get(field_name)
            if f is not None:
                name: str = get_named_type(f.type).name
                return name
        return None

    def is_composite(self, name: str) -> bool:
        return isinstance(self.schema.type_map.get(name), GraphQLCompositeType)

    def implements(self, obj: str, abstract: str) -> bool:
        if obj == abstract:
            return True
        key = (obj, abstract)
        hit = self._implements_cache.get(key)
        if hit is None:
            hit = self._implements_cache[key] = self._implements(obj, abstract)
        return hit

    def _implements(self, obj: str, abstract: str) -> bool:
        t = self.schema.type_map.get(abstract)
        o = self.schema.type_map.get(obj)
        if isinstance(t, GraphQLInterfaceType | GraphQLUnionType) and isinstance(
            o, GraphQLObjectType | GraphQLInterfaceType
        ):
            return self.schema.is_sub_type(t, o)
        return False

    @cached_property
    def subgraph_urls(self) -> dict[str, str]:
        return {g.name: g.url for g in self.graphs.values()}

    def graph_name(self, enum_value: str) -> str:
        return self.graphs[enum_value].name
