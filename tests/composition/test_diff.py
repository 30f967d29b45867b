from __future__ import annotations

from media_gateway.composition import Severity, breaking_changes, diff_schemas

from .helpers import fed2, sdl_of

OLD = """
type Query { user(id: ID!): User search(q: String): [Result] }
type User { id: ID! name: String! email: String tags: [String] }
type Movie { id: ID! }
type Show { id: ID! }
union Result = Movie | Show
enum Role { ADMIN VIEWER }
input Filter { q: String }
"""


def kinds(old: str, new: str) -> dict[str, Severity]:
    return {f"{c.kind} {c.path}": c.severity for c in diff_schemas(old, new)}


def test_removals_are_breaking() -> None:
    new = OLD.replace(" email: String", "").replace("| Show", "").replace(" VIEWER", "")
    new = new.replace("type Show { id: ID! }", "")
    found = kinds(OLD, new)
    assert found["FIELD_REMOVED User.email"] is Severity.BREAKING
    assert found["UNION_MEMBER_REMOVED Result"] is Severity.BREAKING
    assert found["ENUM_VALUE_REMOVED Role.VIEWER"] is Severity.BREAKING
    assert found["TYPE_REMOVED Show"] is Severity.BREAKING


def test_type_changes_follow_output_and_input_variance() -> None:
    new = (
        OLD.replace("name: String!", "name: String")
        .replace("email: String", "email: String!")
        .replace("user(id: ID!)", "user(id: ID)")
        .replace("search(q: String)", "search(q: String!)")
        .replace("tags: [String]", "tags: String")
    )
    found = kinds(OLD, new)
    assert found["FIELD_TYPE_CHANGED User.name"] is Severity.BREAKING
    assert found["FIELD_TYPE_CHANGED User.email"] is Severity.SAFE
    assert found["FIELD_TYPE_CHANGED User.tags"] is Severity.BREAKING
    assert found["ARGUMENT_TYPE_CHANGED Query.user(id:)"] is Severity.SAFE
    assert found["ARGUMENT_TYPE_CHANGED Query.search(q:)"] is Severity.BREAKING


def test_new_arguments_and_input_fields() -> None:
    new = (
        OLD.replace("user(id: ID!)", "user(id: ID!, locale: String!)")
        .replace("search(q: String)", "search(q: String, first: Int = 10)")
        .replace("input Filter { q: String }", "input Filter { q: String year: Int! }")
    )
    found = kinds(OLD, new)
    assert found["REQUIRED_ARGUMENT_ADDED Query.user(locale:)"] is Severity.BREAKING
    assert found["OPTIONAL_ARGUMENT_ADDED Query.search(first:)"] is Severity.DANGEROUS
    assert found["REQUIRED_INPUT_FIELD_ADDED Filter.year"] is Severity.BREAKING


def test_additions_are_safe_or_dangerous() -> None:
    new = OLD.replace("ADMIN VIEWER", "ADMIN VIEWER GUEST") + "type Extra { x: Int }"
    found = kinds(OLD, new)
    assert found["ENUM_VALUE_ADDED Role.GUEST"] is Severity.DANGEROUS
    assert found["TYPE_ADDED Extra"] is Severity.SAFE
    assert breaking_changes(OLD, new) == []


def test_supergraphs_are_compared_by_their_api_schema() -> None:
    before = sdl_of(a=fed2("key inaccessible", "type Query { a: Int b: Int @inaccessible }"))
    after = sdl_of(a=fed2("key inaccessible", "type Query { a: Int }"))
    # the hidden field was never part of the API: removing it breaks nothing
    assert breaking_changes(before, after) == []
    removed = sdl_of(a=fed2("key", "type Query { b: Int }"))
    assert [c.kind for c in breaking_changes(after, removed)] == ["FIELD_REMOVED"]
