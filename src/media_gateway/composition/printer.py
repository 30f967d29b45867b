"""Printing a supergraph in the layout Apollo composition uses.

Definitions are sorted by name (directives first, then types), type-level directives go one per
line, and the ``link``/``join`` spec definitions match the join version in use.
"""

from __future__ import annotations

from graphql import print_ast

from .model import Directive, DirectiveDef, EnumValue, Field, InputValue, TypeDef, type_str
from .supergraph import Supergraph

LINK_DIRECTIVE = (
    "directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) "
    "repeatable on SCHEMA"
)
INACCESSIBLE_DIRECTIVE = (
    "directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | "
    "ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION"
)
TAG_DIRECTIVE = (
    "directive @tag(name: String!) repeatable on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | "
    "ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION | "
    "SCHEMA"
)
_SECURITY_LOCATIONS = "FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM"
SECURITY_DIRECTIVES = {
    "authenticated": f"directive @authenticated on {_SECURITY_LOCATIONS}",
    "requiresScopes": "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on "
    + _SECURITY_LOCATIONS,
    "policy": f"directive @policy(policies: [[policy__Policy!]!]!) on {_SECURITY_LOCATIONS}",
}
SECURITY_SCALARS = {"requiresScopes": "requiresScopes__Scope", "policy": "policy__Policy"}
LINK_PURPOSE = '''enum link__Purpose {
  """
  `SECURITY` features provide metadata necessary to securely resolve fields.
  """
  SECURITY

  """
  `EXECUTION` features provide metadata necessary for operation execution.
  """
  EXECUTION
}'''


def join_directive_definitions(version: tuple[int, int]) -> dict[str, str]:
    field_args = (
        "graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, "
        "external: Boolean, override: String, usedOverridden: Boolean"
    )
    if version >= (0, 4):
        field_args += ", overrideLabel: String"
    if version >= (0, 5):
        field_args += ", contextArguments: [join__ContextArgument!]"
    defs = {
        "join__enumValue": "directive @join__enumValue(graph: join__Graph!) repeatable on "
        "ENUM_VALUE",
        "join__field": f"directive @join__field({field_args}) repeatable on FIELD_DEFINITION | "
        "INPUT_FIELD_DEFINITION",
        "join__graph": "directive @join__graph(name: String!, url: String!) on ENUM_VALUE",
        "join__implements": "directive @join__implements(graph: join__Graph!, interface: "
        "String!) repeatable on OBJECT | INTERFACE",
        "join__type": "directive @join__type(graph: join__Graph!, key: join__FieldSet, "
        "extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! "
        "= false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR",
        "join__unionMember": "directive @join__unionMember(graph: join__Graph!, member: "
        "String!) repeatable on UNION",
    }
    if version >= (0, 4):
        defs["join__directive"] = (
            "directive @join__directive(graphs: [join__Graph!], name: String!, args: "
            "join__DirectiveArguments) repeatable on SCHEMA | OBJECT | INTERFACE | "
            "FIELD_DEFINITION"
        )
    return defs


def join_types(version: tuple[int, int]) -> dict[str, str]:
    types = {"join__FieldSet": "scalar join__FieldSet"}
    if version >= (0, 4):
        types["join__DirectiveArguments"] = "scalar join__DirectiveArguments"
    if version >= (0, 5):
        types["join__FieldValue"] = "scalar join__FieldValue"
        types["join__ContextArgument"] = (
            "input join__ContextArgument {\n  name: String!\n  type: String!\n"
            "  context: String!\n  selection: join__FieldValue!\n}"
        )
    return types


def sort_key(name: str) -> tuple[tuple[tuple[int, str], ...], tuple[int, ...]]:
    """Approximates JavaScript's ``localeCompare`` order used by Apollo's printer."""
    primary: list[tuple[int, str]] = []
    tertiary: list[int] = []
    for c in name:
        if c.isalpha():
            primary.append((2, c.lower()))
        elif c.isdigit():
            primary.append((1, c))
        else:
            primary.append((0, c))
        tertiary.append(1 if c.isupper() else 0)
    return tuple(primary), tuple(tertiary)


def _block_string(value: str, indent: str) -> str:
    escaped = value.replace('"""', '\\"""')
    lines = escaped.split("\n")
    single = len(lines) == 1
    force_leading = len(lines) > 1 and all(not line or line[0] in " \t" for line in lines[1:])
    trailing_quote = value.endswith('"') and not escaped.endswith('\\"""')
    trailing_slash = value.endswith("\\")
    multiple = not single or len(value) > 70 or trailing_quote or trailing_slash or (force_leading)
    result = ""
    skip_leading = single and value[:1] in (" ", "\t")
    if (multiple and not skip_leading) or force_leading:
        result += "\n"
    result += escaped
    if multiple or trailing_quote or trailing_slash:
        result += "\n"
    body = '"""' + result + '"""'
    return "\n".join((indent + line) if line else "" for line in body.split("\n"))


def _description(desc: str | None, indent: str, first: bool) -> str:
    if desc is None:
        return ""
    prefix = "" if first or not indent else "\n"
    return prefix + _block_string(desc, indent) + "\n"


def _directives_inline(directives: list[Directive]) -> str:
    return "".join(" " + d.print() for d in directives)


def _input_value(v: InputValue) -> str:
    text = f"{v.name}: {type_str(v.type)}"
    if v.default is not None:
        text += f" = {print_ast(v.default)}"
    return text + _directives_inline(v.directives)


def _args(args: list[InputValue], indent: str) -> str:
    if not args:
        return ""
    if all(a.description is None for a in args):
        return "(" + ", ".join(_input_value(a) for a in args) + ")"
    lines = [
        _description(a.description, indent + "  ", i == 0) + indent + "  " + _input_value(a)
        for i, a in enumerate(args)
    ]
    return "(\n" + "\n".join(lines) + "\n" + indent + ")"


def _field(f: Field, first: bool) -> str:
    return (
        _description(f.description, "  ", first)
        + "  "
        + f.name
        + _args(list(f.args.values()), "  ")
        + ": "
        + type_str(f.type)
        + _directives_inline(f.directives)
    )


def _enum_value(v: EnumValue, first: bool) -> str:
    return (
        _description(v.description, "  ", first) + "  " + v.name + _directives_inline(v.directives)
    )


def _type_header(t: TypeDef) -> str:
    keyword = {
        "OBJECT": "type",
        "INTERFACE": "interface",
        "UNION": "union",
        "ENUM": "enum",
        "INPUT_OBJECT": "input",
        "SCALAR": "scalar",
    }[t.kind]
    head = f"{keyword} {t.name}"
    if t.interfaces and t.kind in ("OBJECT", "INTERFACE"):
        head += " implements " + " & ".join(t.interfaces)
    if t.directives:
        head += "".join("\n  " + d.print() for d in t.directives)
    return head


def print_type(t: TypeDef) -> str:
    head = _description(t.description, "", True) + _type_header(t)
    sep = "\n" if t.directives else " "
    if t.kind == "SCALAR":
        return head
    if t.kind == "UNION":
        if not t.members:
            return head
        return head + ("\n " if t.directives else " ") + "= " + " | ".join(t.members)
    if t.kind in ("OBJECT", "INTERFACE"):
        body = [_field(f, i == 0) for i, f in enumerate(t.fields.values())]
    elif t.kind == "ENUM":
        body = [_enum_value(v, i == 0) for i, v in enumerate(t.values.values())]
    else:
        body = [
            _description(v.description, "  ", i == 0) + "  " + _input_value(v)
            for i, v in enumerate(t.input_fields.values())
        ]
    return head + sep + "{\n" + "\n".join(body) + "\n}"


def print_directive_def(d: DirectiveDef) -> str:
    text = _description(d.description, "", True) + f"directive @{d.name}"
    text += _args(list(d.args.values()), "")
    if d.repeatable:
        text += " repeatable"
    return text + " on " + " | ".join(d.locations)


def print_supergraph(sg: Supergraph) -> str:
    major, minor = sg.join_version
    links = [
        '@link(url: "https://specs.apollo.dev/link/v1.0")',
        f'@link(url: "https://specs.apollo.dev/join/v{major}.{minor}", for: EXECUTION)',
    ]
    for link in sg.links:
        text = f'@link(url: "{link.url}"'
        if link.purpose:
            text += f", for: {link.purpose}"
        if link.imports:
            text += ", import: [" + ", ".join(f'"{i}"' for i in link.imports) + "]"
        links.append(text + ")")
    roots = "\n".join(f"  {op}: {name}" for op, name in sg.roots.items())
    schema = "schema\n" + "".join(f"  {link}\n" for link in links) + "{\n" + roots + "\n}"

    directives: dict[str, str] = {"link": LINK_DIRECTIVE}
    directives.update(join_directive_definitions(sg.join_version))
    if sg.uses_inaccessible:
        directives["inaccessible"] = INACCESSIBLE_DIRECTIVE
    if sg.uses_tag:
        directives["tag"] = TAG_DIRECTIVE
    for name in sg.security_directives:
        directives[name] = SECURITY_DIRECTIVES[name]
    for name, d in sg.directive_defs.items():
        directives[name] = print_directive_def(d)

    types: dict[str, str] = dict(join_types(sg.join_version))
    graph_values = "\n".join(
        f'  {g.enum_name} @join__graph(name: "{g.name}", url: "{g.url}")' for g in sg.graphs
    )
    types["join__Graph"] = "enum join__Graph {\n" + graph_values + "\n}"
    types["link__Import"] = "scalar link__Import"
    types["link__Purpose"] = LINK_PURPOSE
    for name in sg.security_directives:
        if name in SECURITY_SCALARS:
            types[SECURITY_SCALARS[name]] = f"scalar {SECURITY_SCALARS[name]}"
    for t in sg.types.values():
        types[t.name] = print_type(t)

    parts = [schema]
    parts += [directives[k] for k in sorted(directives, key=sort_key)]
    parts += [types[k] for k in sorted(types, key=sort_key)]
    return "\n\n".join(parts) + "\n"
