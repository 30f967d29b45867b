from __future__ import annotations

from media_gateway.composition import CompositionFailed, SubgraphSource, compose_or_raise

from .helpers import block, fed2, sdl_of

USERS = fed2(
    "key shareable",
    'type Query { me: User }\n type User @key(fields: "id") { id: ID! name: String }',
)
REVIEWS = fed2(
    "key",
    'type User @key(fields: "id") { id: ID! reviews: [Review!]! }\ntype Review { body: String! }',
)


def test_header_graph_enum_and_entity_union_of_fields() -> None:
    sdl = sdl_of(users=USERS, reviews=REVIEWS)
    assert sdl.startswith(
        'schema\n  @link(url: "https://specs.apollo.dev/link/v1.0")\n'
        '  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)\n{\n  query: Query\n}'
    )
    assert block(sdl, "enum join__Graph") == (
        "enum join__Graph {\n"
        '  REVIEWS @join__graph(name: "reviews", url: "http://reviews.test/graphql")\n'
        '  USERS @join__graph(name: "users", url: "http://users.test/graphql")\n}'
    )
    assert block(sdl, "type User") == (
        "type User\n"
        '  @join__type(graph: REVIEWS, key: "id")\n'
        '  @join__type(graph: USERS, key: "id")\n'
        "{\n"
        "  id: ID!\n"
        "  reviews: [Review!]! @join__field(graph: REVIEWS)\n"
        "  name: String @join__field(graph: USERS)\n"
        "}"
    )
    # every subgraph has a Query root (for _service), fields say where they resolve
    assert block(sdl, "type Query") == (
        "type Query\n  @join__type(graph: REVIEWS)\n  @join__type(graph: USERS)\n"
        "{\n  me: User @join__field(graph: USERS)\n}"
    )


def test_join_v05_for_recent_federation_versions() -> None:
    sdl = sdl_of(a=fed2("key", "type Query { a: Int }", version="2.9"))
    assert '@link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION)' in sdl
    assert "overrideLabel: String, contextArguments: [join__ContextArgument!]" in sdl
    assert "input join__ContextArgument {" in sdl


def test_shareable_value_type_and_nullable_merge_records_subgraph_types() -> None:
    a = fed2(
        "shareable",
        "type Query { hello: String @shareable }\n"
        "type Money @shareable { amount: Int! currency: String }",
    )
    b = fed2(
        "shareable",
        "type Query { hello: String! @shareable }\n"
        "type Money @shareable { amount: Int! currency: String }",
    )
    sdl = sdl_of(a=a, b=b)
    assert (
        '  hello: String @join__field(graph: A, type: "String") '
        '@join__field(graph: B, type: "String!")'
    ) in sdl
    assert block(sdl, "type Money") == (
        "type Money\n  @join__type(graph: A)\n  @join__type(graph: B)\n"
        "{\n  amount: Int!\n  currency: String\n}"
    )


def test_input_types_intersect_and_take_the_stricter_type() -> None:
    a = fed2(
        "shareable",
        "type Query { f(i: Filter): Int @shareable }\n"
        "input Filter { q: String limit: Int extra: Int }",
    )
    b = fed2(
        "shareable",
        "type Query { f(i: Filter): Int @shareable }\ninput Filter { q: String! limit: Int }",
    )
    sdl = sdl_of(a=a, b=b)
    assert block(sdl, "input Filter") == (
        "input Filter\n  @join__type(graph: A)\n  @join__type(graph: B)\n{\n"
        '  q: String! @join__field(graph: A, type: "String") '
        '@join__field(graph: B, type: "String!")\n'
        "  limit: Int\n}"
    )


def test_enums_output_union_input_intersection() -> None:
    a = fed2(
        "shareable",
        "type Query { c: Color @shareable s(sort: Sort): Int @shareable }\n"
        "enum Color { RED GREEN }\n enum Sort { ASC DESC }",
    )
    b = fed2(
        "shareable",
        "type Query { c: Color @shareable s(sort: Sort): Int @shareable }\n"
        "enum Color { RED BLUE }\n enum Sort { ASC }",
    )
    sdl = sdl_of(a=a, b=b)
    color = block(sdl, "enum Color")
    assert "  GREEN @join__enumValue(graph: A)" in color
    assert "  BLUE @join__enumValue(graph: B)" in color
    sort = block(sdl, "enum Sort")
    assert "ASC @join__enumValue(graph: A) @join__enumValue(graph: B)" in sort
    assert "DESC" not in sort


def test_override_progressive_override_and_used_overridden() -> None:
    a = fed2(
        "key override",
        'type Query { p: Product }\n type Product @key(fields: "id") '
        '{ id: ID! sku: String @override(from: "b") stock: Int '
        '@override(from: "b", label: "percent(25)") }',
        version="2.7",
    )
    b = fed2(
        "key shareable",
        'type Product @key(fields: "sku") { id: ID! @shareable sku: String stock: Int }',
    )
    sdl = sdl_of(a=a, b=b)
    product = block(sdl, "type Product")
    assert (
        '  sku: String @join__field(graph: A, override: "b") '
        "@join__field(graph: B, usedOverridden: true)"
    ) in product
    assert (
        '  stock: Int @join__field(graph: A, override: "b", overrideLabel: "percent(25)") '
        '@join__field(graph: B, overrideLabel: "percent(25)")'
    ) in product


def test_requires_is_recorded() -> None:
    a = fed2(
        "key", 'type Query { p: Product }\n type Product @key(fields: "id") { id: ID! weight: Int }'
    )
    b = fed2(
        "key external requires",
        'type Product @key(fields: "id") { id: ID! '
        'weight: Int @external shipping: Int @requires(fields: "weight") }',
    )
    product = block(sdl_of(a=a, b=b), "type Product")
    assert "  weight: Int @join__field(graph: A) @join__field(graph: B, external: true)" in product
    assert '  shipping: Int @join__field(graph: B, requires: "weight")' in product


def test_unused_overridden_field_drops_the_old_owner() -> None:
    a = fed2(
        "key override",
        'type Query { p: P }\n type P @key(fields: "id") '
        '{ id: ID! name: String @override(from: "b") }',
    )
    b = fed2("key", 'type P @key(fields: "id") { id: ID! name: String }')
    assert '  name: String @join__field(graph: A, override: "b")\n' in sdl_of(a=a, b=b)


def test_provides_external_and_non_resolvable_keys() -> None:
    a = fed2(
        "key provides external",
        'type Query { top: [Review] @provides(fields: "author '
        '{ name }") }\n type Review { author: User }\n type User @key(fields: "id", '
        "resolvable: false) { id: ID! name: String @external }",
    )
    b = fed2(
        "key shareable",
        'type Query { u: User }\n type User @key(fields: "id") { id: ID! name: String @shareable }',
    )
    sdl = sdl_of(a=a, b=b)
    assert '  top: [Review] @join__field(graph: A, provides: "author { name }")' in sdl
    user = block(sdl, "type User")
    assert '@join__type(graph: A, key: "id", resolvable: false)' in user
    assert "  name: String @join__field(graph: A, external: true) @join__field(graph: B)" in user


def test_interfaces_unions_and_interface_objects() -> None:
    a = fed2(
        "key interfaceObject",
        'type Media @key(fields: "id") @interfaceObject '
        "{ id: ID! rating: Int }\n type Query { top: [Media] }",
    )
    b = fed2(
        "key",
        'interface Media @key(fields: "id") { id: ID! title: String }\n'
        'type Movie implements Media @key(fields: "id") { id: ID! title: String }\n'
        "union Result = Movie\n type Query { search: [Result] }",
    )
    sdl = sdl_of(a=a, b=b)
    media = block(sdl, "interface Media")
    assert '@join__type(graph: A, key: "id", isInterfaceObject: true)' in media
    assert '@join__type(graph: B, key: "id")' in media
    movie = block(sdl, "type Movie implements Media")
    assert '@join__implements(graph: B, interface: "Media")' in movie
    assert "  rating: Int @join__field\n" in movie + "\n"
    assert '@join__unionMember(graph: B, member: "Movie")' in block(sdl, "union Result")


def test_federation1_subgraphs_are_upgraded() -> None:
    a = 'type Query { me: User }\n type User @key(fields: "id") { id: ID! name: String }'
    b = 'extend type User @key(fields: "id") { id: ID! @external reviews: [String] name: String }'
    sdl = sdl_of(a=a, b=b)
    user = block(sdl, "type User")
    # Federation 1: the shared field is implicitly shareable, the key field not external
    assert "  id: ID!\n  name: String\n" in user
    assert "  reviews: [String] @join__field(graph: B)" in user


def test_extension_flag_root_renames_and_renamed_imports() -> None:
    a = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: '
        '[{name: "@key", as: "@primaryKey"}, "@external"])\n'
        "schema { query: RootQuery }\n type RootQuery { t: T }\n"
        'type T @primaryKey(fields: "id") { id: ID! }'
    )
    b = fed2("key", 'extend type T @key(fields: "id") { id: ID! extra: Int }')
    sdl = sdl_of(a=a, b=b)
    assert "RootQuery" not in sdl
    assert "  t: T @join__field(graph: A)" in block(sdl, "type Query")
    assert '@join__type(graph: B, key: "id", extension: true)' in block(sdl, "type T")


def test_federation_plumbing_in_service_sdl_is_ignored() -> None:
    service_sdl = fed2(
        "key",
        "scalar _Any\n type _Service { sdl: String! }\n union _Entity = User\n"
        "type Query { _entities(representations: [_Any!]!): [_Entity]! _service: _Service! "
        'me: User }\n type User @key(fields: "id") { id: ID! }',
    )
    sdl = sdl_of(a=service_sdl)
    assert "_Service" not in sdl and "_entities" not in sdl and "_Any" not in sdl


def test_inaccessible_tag_and_compose_directive_are_carried() -> None:
    a = (
        'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", '
        '"@tag", "@inaccessible", "@composeDirective"]) @link(url: "https://example.dev/cache/'
        'v1.0", import: ["@cacheControl"]) @composeDirective(name: "@cacheControl")\n'
        "directive @cacheControl(maxAge: Int) on FIELD_DEFINITION\n"
        'type Query { a: Int @tag(name: "public") @cacheControl(maxAge: 5) '
        "secret: Int @inaccessible }"
    )
    sdl = sdl_of(a=a)
    assert '@link(url: "https://specs.apollo.dev/tag/v0.3")' in sdl
    assert '@link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)' in sdl
    assert '@link(url: "https://example.dev/cache/v1.0", import: ["@cacheControl"])' in sdl
    assert "directive @cacheControl(maxAge: Int) on FIELD_DEFINITION" in sdl
    query = block(sdl, "type Query")
    assert '  a: Int @tag(name: "public") @cacheControl(maxAge: 5)' in query
    assert "  secret: Int @inaccessible\n" in query + "\n"


def test_compose_or_raise() -> None:
    assert compose_or_raise([SubgraphSource("a", "http://a", fed2("key", "type Query { a: Int }"))])
    try:
        compose_or_raise([SubgraphSource("a", "http://a", "type Query { a: Nope }")])
    except CompositionFailed as exc:
        assert exc.errors[0].code == "INVALID_GRAPHQL"
    else:  # pragma: no cover
        raise AssertionError("expected CompositionFailed")
