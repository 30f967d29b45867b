from __future__ import annotations

from .helpers import codes, fed2, run


def test_non_shareable_field_in_two_subgraphs_names_subgraphs_type_and_field() -> None:
    a = fed2("key", 'type Query { a: T }\n type T @key(fields: "id") { id: ID! name: String }')
    b = fed2("key", 'type T @key(fields: "id") { id: ID! name: String }')
    result = run(a=a, b=b)
    [error] = result.errors
    assert error.code == "INVALID_FIELD_SHARING"
    assert (error.type_name, error.field_name) == ("T", "name")
    assert set(error.subgraphs) == {"a", "b"}
    assert 'Non-shareable field "T.name" is resolved from multiple subgraphs' in error.message


def test_field_type_mismatch() -> None:
    a = fed2("shareable", "type Query { v: String @shareable }")
    b = fed2("shareable", "type Query { v: Int @shareable }")
    result = run(a=a, b=b)
    [error] = result.errors
    assert error.code == "FIELD_TYPE_MISMATCH"
    assert error.coordinate == "Query.v"
    assert 'type "String" in subgraph "a"' in error.message
    assert 'type "Int" in subgraph "b"' in error.message


def test_key_on_missing_field() -> None:
    a = fed2("key", 'type Query { t: T }\n type T @key(fields: "uuid") { id: ID! }')
    result = run(a=a)
    [error] = result.errors
    assert error.code == "KEY_INVALID_FIELDS"
    assert error.subgraphs == ("a",)
    assert 'Cannot query field "uuid" on type "T"' in error.message


def test_key_selecting_an_interface() -> None:
    a = fed2(
        "key",
        "type Query { t: T }\n interface I { x: Int }\n"
        'type T @key(fields: "i { x }") { id: ID! i: I }',
    )
    assert codes(a=a) == ["KEY_FIELDS_SELECT_INVALID_TYPE"]


def test_requires_and_provides_selecting_missing_fields() -> None:
    a = fed2(
        "key requires provides external",
        'type Query { t: T @provides(fields: "zzz") }\n'
        'type T @key(fields: "id") { id: ID! w: Int @requires(fields: "nope") }',
    )
    assert sorted(codes(a=a)) == ["PROVIDES_INVALID_FIELDS", "REQUIRES_INVALID_FIELDS"]


def test_requires_of_a_field_that_is_not_external() -> None:
    a = fed2(
        "key requires",
        'type Query { t: T }\n type T @key(fields: "id") { id: ID! '
        'w: Int z: Int @requires(fields: "w") }',
    )
    assert codes(a=a) == ["REQUIRES_FIELDS_MISSING_EXTERNAL"]


def test_unsatisfiable_requires() -> None:
    a = fed2(
        "key requires external",
        'type Query { t: T }\n type T @key(fields: "id") '
        '{ id: ID! w: Int @external z: Int @requires(fields: "w") }',
    )
    b = fed2("key", 'type T @key(fields: "id", resolvable: false) { id: ID! w: Int }')
    result = run(a=a, b=b)
    assert {e.code for e in result.errors} == {"SATISFIABILITY_ERROR"}
    assert any(e.coordinate == "T.z" and "@require" in e.message for e in result.errors)


def test_external_everywhere() -> None:
    a = fed2(
        "key requires external",
        'type Query { t: T }\n type T @key(fields: "id") '
        '{ id: ID! w: Int @external z: Int @requires(fields: "w") }',
    )
    assert codes(a=a) == ["EXTERNAL_MISSING_ON_BASE"]


def test_unused_external() -> None:
    a = fed2(
        "key external",
        'type Query { t: T }\n type T @key(fields: "id") { id: ID! w: Int @external }',
    )
    assert codes(a=a) == ["EXTERNAL_UNUSED"]


def test_type_kind_mismatch() -> None:
    a = fed2("key", "type Query { t: T }\n type T { id: ID! }")
    b = fed2("key", "interface T { id: ID! }")
    result = run(a=a, b=b)
    [error] = result.errors
    assert error.code == "TYPE_KIND_MISMATCH"
    assert "Object Type in subgraph" in error.message and "Interface Type" in error.message


def test_enum_used_as_input_and_output_must_match() -> None:
    a = fed2("key", "type Query { a(c: C): C }\n enum C { X Y }")
    b = fed2("key", "enum C { X Z }")
    assert codes(a=a, b=b) == ["ENUM_VALUE_MISMATCH", "ENUM_VALUE_MISMATCH"]


def test_required_input_field_and_argument_missing_somewhere() -> None:
    a = fed2(
        "shareable", "type Query { a(i: I, x: Int!): Int @shareable }\ninput I { x: Int! y: Int }"
    )
    b = fed2("shareable", "type Query { a(i: I): Int @shareable }\n input I { y: Int }")
    assert sorted(codes(a=a, b=b)) == [
        "REQUIRED_ARGUMENT_MISSING_IN_SOME_SUBGRAPH",
        "REQUIRED_INPUT_FIELD_MISSING_IN_SOME_SUBGRAPH",
    ]


def test_override_errors() -> None:
    a = fed2(
        "key override",
        'type Query { t: T }\n type T @key(fields: "id") '
        '{ id: ID! v: Int @override(from: "a") w: Int @override(from: "b", label: "1bad") }',
    )
    b = fed2("key", 'type T @key(fields: "id") { id: ID! w: Int }')
    assert sorted(codes(a=a, b=b)) == ["OVERRIDE_FROM_SELF_ERROR", "OVERRIDE_LABEL_INVALID"]


def test_syntax_errors_and_unknown_types_name_the_subgraph() -> None:
    broken = run(broken="type Query {", fine="type Query { a: Int }")
    assert [(e.code, e.subgraphs) for e in broken.errors] == [("INVALID_GRAPHQL", ("broken",))]
    unknown = run(other="type Query { a: Missing }")
    assert [(e.code, e.coordinate) for e in unknown.errors] == [("INVALID_GRAPHQL", "Query.a")]
