"""Reading one subgraph's SDL into the composition model.

Handles Federation 2 (``@link`` to the federation spec, with renamed and prefixed imports) and
Federation 1 SDL (no ``@link``), root types under other names, and the federation plumbing a
subgraph's ``_service { sdl }`` may include (``_Service``, ``_Entity``, ``_Any``, ``_service``,
``_entities`` and the federation directive definitions), which is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphql import (
    DirectiveDefinitionNode,
    DirectiveNode,
    DocumentNode,
    EnumTypeDefinitionNode,
    EnumTypeExtensionNode,
    EnumValueDefinitionNode,
    FieldDefinitionNode,
    GraphQLSyntaxError,
    InputObjectTypeDefinitionNode,
    InputObjectTypeExtensionNode,
    InputValueDefinitionNode,
    InterfaceTypeDefinitionNode,
    InterfaceTypeExtensionNode,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    ObjectValueNode,
    ScalarTypeDefinitionNode,
    ScalarTypeExtensionNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    TypeNode,
    UnionTypeDefinitionNode,
    UnionTypeExtensionNode,
    parse,
)

from .errors import CompositionError
from .fieldset import FieldSetError, collect_field_set
from .model import (
    DEFAULT_ROOT_NAMES,
    Directive,
    DirectiveDef,
    EnumValue,
    Field,
    InputValue,
    TypeDef,
    TypeKind,
    base_name,
    rename_in_type,
)

FEDERATION_IDENTITY = "https://specs.apollo.dev/federation"
LINK_IDENTITY = "https://specs.apollo.dev/link"

FEDERATION_DIRECTIVES = (
    "key",
    "requires",
    "provides",
    "external",
    "extends",
    "shareable",
    "override",
    "tag",
    "inaccessible",
    "interfaceObject",
    "composeDirective",
    "authenticated",
    "requiresScopes",
    "policy",
    "context",
    "fromContext",
    "cost",
    "listSize",
)
FEDERATION1_DIRECTIVES = (
    "key",
    "requires",
    "provides",
    "external",
    "extends",
    "tag",
    "inaccessible",
)
FEDERATION_TYPES = ("FieldSet", "Scope", "Policy", "ContextFieldValue")
FEDERATION_PLUMBING_TYPES = frozenset({"_Service", "_Entity", "_Any", "_FieldSet"})
LINK_TYPES = ("Import", "Purpose")


@dataclass
class LinkedFeature:
    """A non-federation ``@link`` of a subgraph (used by ``@composeDirective``)."""

    url: str
    identity: str
    name: str
    version: str
    alias: str | None
    imports: dict[str, str]  # local directive name -> name in the feature


@dataclass
class Subgraph:
    name: str
    url: str
    fed2: bool
    fed_version: tuple[int, int] | None
    types: dict[str, TypeDef] = field(default_factory=dict)
    directive_defs: dict[str, DirectiveDef] = field(default_factory=dict)
    links: list[LinkedFeature] = field(default_factory=list)
    schema_directives: list[Directive] = field(default_factory=list)
    roots: dict[str, str] = field(default_factory=dict)  # operation -> type name

    # -- federation metadata ---------------------------------------------------------------

    def __post_init__(self) -> None:
        self._cache: dict[str, set[str]] = {}

    def invalidate(self) -> None:
        self._cache = {}

    def field_of(self, type_name: str, field_name: str) -> Field | None:
        t = self.types.get(type_name)
        return None if t is None else t.fields.get(field_name)

    def implementations(self, interface: str) -> list[TypeDef]:
        return [t for t in self.types.values() if t.kind == "OBJECT" and interface in t.interfaces]

    def is_interface_object(self, t: TypeDef) -> bool:
        return t.kind == "OBJECT" and t.has_fed("interfaceObject")

    def merged_kind(self, t: TypeDef) -> TypeKind:
        return "INTERFACE" if self.is_interface_object(t) else t.kind

    def targets(self, parent: TypeDef, fields: str, *, implementations: bool = True) -> list[Field]:
        try:
            return collect_field_set(
                self.types, parent, fields, include_implementations=implementations
            )
        except FieldSetError:
            return []

    def _coords(self, key: str) -> set[str]:
        if key not in self._cache:
            self._cache.update(self._compute())
        return self._cache[key]

    def _compute(self) -> dict[str, set[str]]:
        fake: set[str] = set()
        provided: set[str] = set()
        external_type: set[str] = set()
        used: set[str] = set()
        for t in self.types.values():
            if t.kind not in ("OBJECT", "INTERFACE"):
                continue
            for key in t.fed_all("key"):
                fields = key.str_arg("fields") or ""
                targets = self.targets(t, fields)
                for f in targets:
                    used.add(f.coordinate)
                if key.on_extension or t.has_fed("extends"):
                    for f in self.targets(t, fields, implementations=False):
                        if f.has_fed("external"):
                            fake.add(f.coordinate)
            if self.fed2 and t.kind == "OBJECT" and t.has_fed("external"):
                external_type.update(f.coordinate for f in t.fields.values())
            for f in t.fields.values():
                req = f.fed("requires")
                if req is not None:
                    used.update(x.coordinate for x in self.targets(t, req.str_arg("fields") or ""))
                prov = f.fed("provides")
                if prov is not None:
                    target = self.types.get(base_name(f.type))
                    if target is not None and target.is_composite:
                        sel = self.targets(target, prov.str_arg("fields") or "")
                        provided.update(x.coordinate for x in sel)
                        used.update(x.coordinate for x in sel)
            if t.kind == "INTERFACE":
                for impl in self.implementations(t.name):
                    for fname in t.fields:
                        if fname in impl.fields:
                            used.add(f"{impl.name}.{fname}")
        external: set[str] = set()
        for t in self.types.values():
            for f in t.fields.values():
                if (f.has_fed("external") or f.coordinate in external_type) and (
                    f.coordinate not in fake
                ):
                    external.add(f.coordinate)
        shareable: set[str] = set()
        for t in self.types.values():
            if t.kind not in ("OBJECT", "INTERFACE"):
                continue
            for key in t.fed_all("key"):
                shareable.update(f.coordinate for f in self.targets(t, key.str_arg("fields") or ""))
            if t.kind != "OBJECT":
                continue
            type_shareables = t.fed_all("shareable") if self.fed2 else []
            for f in t.fields.values():
                if (self.fed2 and f.has_fed("shareable")) or any(
                    d.on_extension == f.on_extension for d in type_shareables
                ):
                    shareable.add(f.coordinate)
                prov = f.fed("provides")
                if prov is not None:
                    target = self.types.get(base_name(f.type))
                    if target is not None and target.is_composite:
                        for x in self.targets(target, prov.str_arg("fields") or ""):
                            if x.coordinate in external:
                                shareable.add(x.coordinate)
        return {
            "fake": fake,
            "provided": provided,
            "external": external,
            "used": used,
            "shareable": shareable,
        }

    def is_external(self, f: Field) -> bool:
        return f.coordinate in self._coords("external")

    def is_fake_external(self, f: Field) -> bool:
        return f.coordinate in self._coords("fake")

    def is_partially_external(self, f: Field) -> bool:
        return self.is_external(f) and f.coordinate in self._coords("provided")

    def is_fully_external(self, f: Field) -> bool:
        return self.is_external(f) and f.coordinate not in self._coords("provided")

    def is_shareable(self, f: Field) -> bool:
        return f.coordinate in self._coords("shareable")

    def is_used(self, f: Field) -> bool:
        return f.coordinate in self._coords("used")


# -- parsing --------------------------------------------------------------------------------

_VERSION_RE = re.compile(r"^v(\d+)\.(\d+)$")


def _parse_link_url(url: str) -> tuple[str, str, str] | None:
    """(identity, name, version) of a spec URL like ``https://specs.apollo.dev/join/v0.3``."""
    url = url.split("?")[0].split("#")[0].rstrip("/")
    parts = url.split("/")
    if len(parts) < 2:
        return None
    version = parts[-1]
    if not _VERSION_RE.match(version):
        return None
    name = parts[-2]
    return "/".join(parts[:-1]), name, version


def _link_imports(directive: DirectiveNode) -> dict[str, str]:
    """Imported element name in the feature -> local name (directives keep their ``@``)."""
    result: dict[str, str] = {}
    for arg in directive.arguments or ():
        if arg.name.value != "import" or not isinstance(arg.value, ListValueNode):
            continue
        for item in arg.value.values:
            if isinstance(item, StringValueNode):
                result[item.value] = item.value
            elif isinstance(item, ObjectValueNode):
                values = {
                    f.name.value: f.value.value
                    for f in item.fields
                    if isinstance(f.value, StringValueNode)
                }
                if "name" in values:
                    result[values["name"]] = values.get("as", values["name"])
    return result


def _string_arg(directive: DirectiveNode, name: str) -> str | None:
    for arg in directive.arguments or ():
        if arg.name.value == name and isinstance(arg.value, StringValueNode):
            return arg.value.value
    return None


_TYPE_NODES: dict[type, tuple[TypeKind, bool]] = {
    ObjectTypeDefinitionNode: ("OBJECT", False),
    ObjectTypeExtensionNode: ("OBJECT", True),
    InterfaceTypeDefinitionNode: ("INTERFACE", False),
    InterfaceTypeExtensionNode: ("INTERFACE", True),
    UnionTypeDefinitionNode: ("UNION", False),
    UnionTypeExtensionNode: ("UNION", True),
    EnumTypeDefinitionNode: ("ENUM", False),
    EnumTypeExtensionNode: ("ENUM", True),
    InputObjectTypeDefinitionNode: ("INPUT_OBJECT", False),
    InputObjectTypeExtensionNode: ("INPUT_OBJECT", True),
    ScalarTypeDefinitionNode: ("SCALAR", False),
    ScalarTypeExtensionNode: ("SCALAR", True),
}


class _Reader:
    def __init__(self, name: str, url: str, document: DocumentNode) -> None:
        self.name = name
        self.url = url
        self.document = document
        self.errors: list[CompositionError] = []
        self.fed_names: dict[str, str] = {}  # local directive name -> canonical federation name
        self.fed_type_names: set[str] = set()
        self.link_names: set[str] = {"link"}
        self.link_type_names: set[str] = {"link__Import", "link__Purpose"}
        self.fed2 = False
        self.fed_version: tuple[int, int] | None = None
        self.links: list[LinkedFeature] = []

    def error(
        self, code: str, message: str, type_name: str | None = None, field_name: str | None = None
    ) -> None:
        self.errors.append(
            CompositionError(
                code=code,
                message=f"[{self.name}] {message}",
                subgraphs=(self.name,),
                type_name=type_name,
                field_name=field_name,
            )
        )

    def read_links(self) -> None:
        schema_nodes = [
            d
            for d in self.document.definitions
            if isinstance(d, SchemaDefinitionNode | SchemaExtensionNode)
        ]
        link_directives = [
            d for node in schema_nodes for d in (node.directives or ()) if d.name.value == "link"
        ]
        for directive in link_directives:
            url = _string_arg(directive, "url")
            if url is None:
                continue
            parsed = _parse_link_url(url)
            if parsed is None:
                continue
            identity, spec_name, version = parsed
            alias = _string_arg(directive, "as")
            prefix = alias or spec_name
            imports = _link_imports(directive)
            if identity == FEDERATION_IDENTITY:
                m = _VERSION_RE.match(version)
                assert m is not None
                self.fed_version = (int(m.group(1)), int(m.group(2)))
                self.fed2 = self.fed_version[0] >= 2
                for canonical in FEDERATION_DIRECTIVES:
                    local = imports.get("@" + canonical)
                    if local is not None:
                        self.fed_names[local.lstrip("@")] = canonical
                    self.fed_names[f"{prefix}__{canonical}"] = canonical
                for tname in FEDERATION_TYPES:
                    self.fed_type_names.add(imports.get(tname, f"{prefix}__{tname}"))
            elif identity == LINK_IDENTITY:
                for tname in LINK_TYPES:
                    self.link_type_names.add(imports.get(tname, f"{prefix}__{tname}"))
                if alias:
                    self.link_names.add(alias)
            else:
                self.links.append(
                    LinkedFeature(
                        url=url,
                        identity=identity,
                        name=spec_name,
                        version=version,
                        alias=alias,
                        imports={
                            v.lstrip("@"): k.lstrip("@")
                            for k, v in imports.items()
                            if k.startswith("@")
                        },
                    )
                )
        if not self.fed2:
            for canonical in FEDERATION1_DIRECTIVES:
                self.fed_names.setdefault(canonical, canonical)
            self.fed_type_names.update({"_FieldSet", "FieldSet"})

    def directives(self, nodes: object, on_extension: bool = False) -> list[Directive]:
        result: list[Directive] = []
        for node in nodes or ():  # type: ignore[attr-defined]
            assert isinstance(node, DirectiveNode)
            local = node.name.value
            if local in self.link_names:
                continue
            args = {a.name.value: a.value for a in node.arguments or ()}
            canonical = self.fed_names.get(local)
            if canonical is not None:
                result.append(Directive(canonical, args, on_extension, federation=True))
            else:
                result.append(Directive(local, args, on_extension))
        return result

    def input_value(self, node: InputValueDefinitionNode) -> InputValue:
        return InputValue(
            name=node.name.value,
            type=node.type,
            default=node.default_value,
            description=node.description.value if node.description else None,
            directives=self.directives(node.directives),
        )

    def is_plumbing_type(self, name: str) -> bool:
        return (
            name in FEDERATION_PLUMBING_TYPES
            or name in self.fed_type_names
            or name in self.link_type_names
            or name.startswith("federation__")
            or name.startswith("link__")
        )

    def read(self) -> Subgraph:
        self.read_links()
        sub = Subgraph(self.name, self.url, self.fed2, self.fed_version, links=self.links)
        roots: dict[str, str] = {}
        for node in self.document.definitions:
            if isinstance(node, SchemaDefinitionNode | SchemaExtensionNode):
                for op in node.operation_types or ():
                    roots[op.operation.value] = op.type.name.value
                sub.schema_directives.extend(
                    self.directives(node.directives, isinstance(node, SchemaExtensionNode))
                )
            elif isinstance(node, DirectiveDefinitionNode):
                dname = node.name.value
                if dname in self.fed_names or dname in self.link_names:
                    continue
                sub.directive_defs[dname] = DirectiveDef(
                    name=dname,
                    args={a.name.value: self.input_value(a) for a in node.arguments or ()},
                    locations=[loc.value for loc in node.locations],
                    repeatable=node.repeatable,
                    description=node.description.value if node.description else None,
                )
            elif type(node) in _TYPE_NODES:
                self.read_type(sub, node)
        # drop federation plumbing
        for tname in list(sub.types):
            if self.is_plumbing_type(tname):
                del sub.types[tname]
        # root types under other names
        for operation, tname in roots.items():
            default = DEFAULT_ROOT_NAMES[operation]
            if tname != default:
                if default in sub.types:
                    self.error(
                        f"ROOT_{operation.upper()}_USED",
                        f'The schema has a type named "{default}" but it is not set as the '
                        f'{operation} root type ("{tname}" is instead): this is not supported by '
                        "federation. If a root type does not use its default name, there should "
                        "be no other type with that default name.",
                        type_name=default,
                    )
                    continue
                rename_type(sub, tname, default)
        sub.roots = {
            op: DEFAULT_ROOT_NAMES[op]
            for op in DEFAULT_ROOT_NAMES
            if DEFAULT_ROOT_NAMES[op] in sub.types
        }
        query = sub.types.get("Query")
        if query is not None:
            query.fields.pop("_service", None)
            query.fields.pop("_entities", None)
        else:
            sub.types["Query"] = TypeDef("OBJECT", "Query", has_definition=True)
        sub.roots["query"] = "Query"
        return sub

    def read_type(self, sub: Subgraph, node: object) -> None:
        kind, is_ext = _TYPE_NODES[type(node)]
        tname: str = node.name.value  # type: ignore[attr-defined]
        existing = sub.types.get(tname)
        if existing is None:
            existing = TypeDef(kind, tname)
            sub.types[tname] = existing
        elif existing.kind != kind:
            self.error(
                "INVALID_GRAPHQL",
                f'Type "{tname}" is defined with different kinds in the same subgraph.',
                type_name=tname,
            )
            return
        t = existing
        if is_ext:
            t.has_extension = True
        else:
            t.has_definition = True
            desc = getattr(node, "description", None)
            if desc is not None:
                t.description = desc.value
        t.directives.extend(self.directives(getattr(node, "directives", None), is_ext))
        for itf in getattr(node, "interfaces", None) or ():
            if itf.name.value not in t.interfaces:
                t.interfaces.append(itf.name.value)
        for member in getattr(node, "types", None) or ():
            if member.name.value not in t.members:
                t.members.append(member.name.value)
        if kind in ("OBJECT", "INTERFACE"):
            for fnode in getattr(node, "fields", None) or ():
                assert isinstance(fnode, FieldDefinitionNode)
                t.fields[fnode.name.value] = Field(
                    name=fnode.name.value,
                    type=fnode.type,
                    parent=tname,
                    args={a.name.value: self.input_value(a) for a in fnode.arguments or ()},
                    description=fnode.description.value if fnode.description else None,
                    directives=self.directives(fnode.directives),
                    on_extension=is_ext,
                )
        elif kind == "INPUT_OBJECT":
            for inode in getattr(node, "fields", None) or ():
                assert isinstance(inode, InputValueDefinitionNode)
                t.input_fields[inode.name.value] = self.input_value(inode)
        elif kind == "ENUM":
            for vnode in getattr(node, "values", None) or ():
                assert isinstance(vnode, EnumValueDefinitionNode)
                t.values[vnode.name.value] = EnumValue(
                    name=vnode.name.value,
                    description=vnode.description.value if vnode.description else None,
                    directives=self.directives(vnode.directives),
                )


def _rename_ref(t: TypeNode, old: str, new: str) -> TypeNode:
    return rename_in_type(t, old, new) if base_name(t) == old else t


def rename_type(sub: Subgraph, old: str, new: str) -> None:
    """Rename a type and every reference to it."""
    t = sub.types.pop(old, None)
    if t is None:
        return
    t.name = new
    sub.types[new] = t
    for other in sub.types.values():
        other.interfaces = [new if i == old else i for i in other.interfaces]
        other.members = [new if m == old else m for m in other.members]
        for f in other.fields.values():
            f.parent = other.name
            f.type = _rename_ref(f.type, old, new)
            for a in f.args.values():
                a.type = _rename_ref(a.type, old, new)
        for iv in other.input_fields.values():
            iv.type = _rename_ref(iv.type, old, new)
    sub.invalidate()


def read_subgraph(name: str, url: str, sdl: str) -> tuple[Subgraph | None, list[CompositionError]]:
    """Parse a subgraph's SDL; returns the model or the errors that prevented it."""
    try:
        document = parse(sdl, no_location=False)
    except GraphQLSyntaxError as exc:
        return None, [
            CompositionError(
                code="INVALID_GRAPHQL",
                message=f"[{name}] {exc.message}",
                subgraphs=(name,),
            )
        ]
    reader = _Reader(name, url, document)
    sub = reader.read()
    return sub, reader.errors
