"""The four benchmark subgraphs (accounts, inventory, products, reviews).

Each subgraph is a Federation 2 schema on a raw ASGI app (uvicorn with uvloop and httptools,
orjson for JSON). graphql-core parses and validates each distinct document once, as any
production GraphQL server caches them; the operation is then compiled (``compiled.py``) and
every request executes it for real: variables coerced, resolvers run, abstract types
resolved, scalars serialized. Errors fall back to graphql-core's executor. Shapes and data
sizes follow The Guild's gateways-benchmark workload: 6 users, 9 products, 11 reviews whose
bodies have the same lengths, every user's ``reviews`` being the first two reviews and every
review's author being user 1.

One difference on purpose: ``shippingEstimate`` is computed from the ``price`` and ``weight``
the gateway sends in the representation (``@requires``), so a gateway that fails to send them
gives a different answer.

Every subgraph counts the requests it served and the ``_entities`` representations it
resolved: ``GET /stats`` reads the counters, ``POST /stats/reset`` zeroes them.

Run one: ``python bench/federation/subgraphs.py accounts --port 5301``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import orjson
from compiled import CompiledOperation, Fallback, Unsupported
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    build_ast_schema,
    execute,
    parse,
    validate,
)

FEDERATION_LINK = (
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", '
    'import: ["@key", "@external", "@requires", "@provides", "@shareable"])\n'
)

SDL: dict[str, str] = {
    "accounts": FEDERATION_LINK
    + """
type Query {
  me: User
  user(id: ID!): User
  users: [User]
}

type User @key(fields: "id") {
  id: ID!
  name: String
  username: String @shareable
  birthday: Int
}
""",
    "products": FEDERATION_LINK
    + """
type Query {
  topProducts(first: Int = 5): [Product]
}

type Product @key(fields: "upc") {
  upc: String!
  name: String
  price: Int
  weight: Int
}
""",
    "inventory": FEDERATION_LINK
    + """
type Product @key(fields: "upc") {
  upc: String!
  weight: Int @external
  price: Int @external
  inStock: Boolean
  shippingEstimate: Int @requires(fields: "price weight")
}
""",
    "reviews": FEDERATION_LINK
    + """
type Review @key(fields: "id") {
  id: ID!
  body: String
  author: User @provides(fields: "username")
  product: Product
}

type User @key(fields: "id") {
  id: ID!
  username: String @external
  reviews: [Review]
}

type Product @key(fields: "upc") {
  upc: String!
  reviews: [Review]
}
""",
}

ENTITY_TYPES: dict[str, tuple[str, ...]] = {
    "accounts": ("User",),
    "products": ("Product",),
    "inventory": ("Product",),
    "reviews": ("Review", "User", "Product"),
}

# ------------------------------------------------------------------------------ data

USERS: list[dict[str, Any]] = [
    {"__typename": "User", "id": str(i), "name": name, "username": username, "birthday": 1234567890}
    for i, (name, username) in enumerate(
        [
            ("Ada Ferreira", "adaferreira"),
            ("Bruno Castell", "brunoc"),
            ("Carmen Okafor", "carmenokafor"),
            ("Dmitri Halvorsen", "dmitrih"),
            ("Elif Santos", "elifsantos"),
            ("Farid Novak", "farid"),
        ],
        start=1,
    )
]
USERS_BY_ID = {u["id"]: u for u in USERS}

PRODUCTS: list[dict[str, Any]] = [
    {"__typename": "Product", "upc": str(i), "name": name, "price": price, "weight": weight}
    for i, (name, price, weight) in enumerate(
        [
            ("Table", 899, 100),
            ("Couch", 1299, 1000),
            ("Glass", 15, 20),
            ("Chair", 499, 100),
            ("TV", 1299, 1000),
            ("Lamp", 6999, 300),
            ("Grill", 3999, 2000),
            ("Fridge", 100000, 6000),
            ("Sofa", 9999, 800),
        ],
        start=1,
    )
]
PRODUCTS_BY_UPC = {p["upc"]: p for p in PRODUCTS}
IN_STOCK = {
    "1": True,
    "2": False,
    "3": False,
    "4": False,
    "5": True,
    "6": True,
    "7": True,
    "8": False,
    "9": True,
}

_TEXT = (
    "stream episode season trailer catalog playback subtitle audio channel device profile "
    "resume progress watchlist genre rating studio release premiere finale director cast "
    "scene score soundtrack bitrate buffer screen remote preview chapter series movie"
)
_WORDS = _TEXT.split()


def filler(length: int, seed: int) -> str:
    """Deterministic review text of exactly `length` characters."""
    words: list[str] = []
    n = 0
    i = seed
    while n < length:
        w = _WORDS[(i * 7 + seed) % len(_WORDS)]
        words.append(w)
        n += len(w) + 1
        i += 1
    text = " ".join(words)
    return (text[: length - 1] + ".") if length > 1 else text[:length]


# (review id, body length, product upc): the workload's sizes and product links
_REVIEW_ROWS = [
    ("1", 445, "1"),
    ("2", 289, "1"),
    ("3", 275, "1"),
    ("4", 143, "1"),
    ("5", 445, "2"),
    ("6", 289, "2"),
    ("7", 275, "2"),
    ("8", 143, "2"),
    ("9", 143, "3"),
    ("10", 143, "4"),
    ("11", 844, "4"),
]
REVIEWS: list[dict[str, Any]] = [
    {"__typename": "Review", "id": rid, "body": filler(size, int(rid)), "upc": upc}
    for rid, size, upc in _REVIEW_ROWS
]
REVIEWS_BY_ID = {r["id"]: r for r in REVIEWS}
REVIEWS_BY_UPC: dict[str, list[dict[str, Any]]] = {}
for _r in REVIEWS:
    REVIEWS_BY_UPC.setdefault(_r["upc"], []).append(_r)
AUTHOR_ID = "1"
USER_REVIEWS = REVIEWS[0:2]

# ------------------------------------------------------------------------------ resolvers

Resolver = Callable[..., Any]


def _accounts_entity(rep: dict[str, Any]) -> Any:
    if rep.get("__typename") == "User":
        return USERS_BY_ID.get(str(rep.get("id")))
    return None


def _products_entity(rep: dict[str, Any]) -> Any:
    if rep.get("__typename") == "Product":
        return PRODUCTS_BY_UPC.get(str(rep.get("upc")))
    return None


def _inventory_entity(rep: dict[str, Any]) -> Any:
    if rep.get("__typename") != "Product":
        return None
    upc = str(rep.get("upc"))
    if upc not in IN_STOCK:
        return None
    return {
        "__typename": "Product",
        "upc": upc,
        "inStock": IN_STOCK[upc],
        "price": rep.get("price"),
        "weight": rep.get("weight"),
    }


def _shipping_estimate(product: dict[str, Any], _info: Any) -> int | None:
    price, weight = product.get("price"), product.get("weight")
    if price is None or weight is None:
        return None
    return 0 if price > 1000 else weight // 2


def _reviews_entity(rep: dict[str, Any]) -> Any:
    typename = rep.get("__typename")
    if typename == "Review":
        return REVIEWS_BY_ID.get(str(rep.get("id")))
    if typename == "User":
        return {"__typename": "User", "id": rep.get("id"), "username": rep.get("username")}
    if typename == "Product":
        return {"__typename": "Product", "upc": rep.get("upc")}
    return None


def _review_author(review: dict[str, Any], _info: Any) -> dict[str, Any]:
    author = USERS_BY_ID[AUTHOR_ID]
    return {"__typename": "User", "id": AUTHOR_ID, "username": author["username"]}


def _review_product(review: dict[str, Any], _info: Any) -> dict[str, Any]:
    return {"__typename": "Product", "upc": review["upc"]}


def _user_reviews(_user: dict[str, Any], _info: Any) -> list[dict[str, Any]]:
    return USER_REVIEWS


def _product_reviews(product: dict[str, Any], _info: Any) -> list[dict[str, Any]]:
    return REVIEWS_BY_UPC.get(str(product.get("upc")), [])


ENTITY_RESOLVERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "accounts": _accounts_entity,
    "products": _products_entity,
    "inventory": _inventory_entity,
    "reviews": _reviews_entity,
}

FIELD_RESOLVERS: dict[str, dict[tuple[str, str], Resolver]] = {
    "accounts": {
        ("Query", "me"): lambda _root, _info: USERS[0],
        ("Query", "user"): lambda _root, _info, id: USERS_BY_ID.get(id),
        ("Query", "users"): lambda _root, _info: USERS,
    },
    "products": {
        ("Query", "topProducts"): lambda _root, _info, first=5: PRODUCTS[: max(first or 0, 0)],
    },
    "inventory": {
        ("Product", "shippingEstimate"): _shipping_estimate,
    },
    "reviews": {
        ("Review", "author"): _review_author,
        ("Review", "product"): _review_product,
        ("User", "reviews"): _user_reviews,
        ("Product", "reviews"): _product_reviews,
    },
}

# ------------------------------------------------------------------------------ schema


def _dict_resolver(source: Any, info: Any, **_args: Any) -> Any:
    return source.get(info.field_name) if isinstance(source, dict) else None


def _type_resolver(value: Any, _info: Any, _type: Any) -> str | None:
    return value.get("__typename") if isinstance(value, dict) else None


class Counters:
    def __init__(self) -> None:
        self.requests = 0
        self.representations = 0
        # requests that carried the client's x-request-id, and every header name seen
        self.with_request_id = 0
        self.header_names: set[str] = set()

    def reset(self) -> None:
        self.requests = 0
        self.representations = 0
        self.with_request_id = 0
        self.header_names = set()


def executable_sdl(name: str) -> str:
    """The subgraph SDL plus the federation additions (`_Any`, `_Entity`, `_entities`,
    `_service`) that a subgraph server exposes."""
    sdl = SDL[name]
    extra = [
        "scalar _Any",
        "scalar link__Import",
        "scalar federation__FieldSet",
        "directive @link(url: String!, import: [link__Import]) repeatable on SCHEMA",
        "directive @key(fields: federation__FieldSet!, resolvable: Boolean = true) "
        "repeatable on OBJECT | INTERFACE",
        "directive @external on OBJECT | FIELD_DEFINITION",
        "directive @requires(fields: federation__FieldSet!) on FIELD_DEFINITION",
        "directive @provides(fields: federation__FieldSet!) on FIELD_DEFINITION",
        "directive @shareable repeatable on OBJECT | FIELD_DEFINITION",
        "type _Service { sdl: String }",
        f"union _Entity = {' | '.join(ENTITY_TYPES[name])}",
    ]
    query_extra = "_entities(representations: [_Any!]!): [_Entity]!\n  _service: _Service!"
    if "type Query {" in sdl:
        sdl = sdl.replace("type Query {", "type Query {\n  " + query_extra, 1)
    else:
        sdl += "\ntype Query {\n  " + query_extra + "\n}\n"
    return sdl + "\n" + "\n".join(extra) + "\n"


def build_subgraph_schema(name: str, counters: Counters) -> GraphQLSchema:
    schema = build_ast_schema(parse(executable_sdl(name)))
    for (type_name, field_name), fn in FIELD_RESOLVERS[name].items():
        schema.type_map[type_name].fields[field_name].resolve = fn  # type: ignore[union-attr]
    entity = ENTITY_RESOLVERS[name]
    sdl = SDL[name]

    def resolve_entities(_root: Any, _info: Any, representations: list[Any]) -> list[Any]:
        counters.representations += len(representations)
        return [entity(rep) if isinstance(rep, dict) else None for rep in representations]

    query = schema.type_map["Query"]
    query.fields["_entities"].resolve = resolve_entities  # type: ignore[union-attr]
    query.fields["_service"].resolve = lambda _r, _i: {"sdl": sdl}  # type: ignore[union-attr]
    return schema


# ------------------------------------------------------------------------------ ASGI app


class SubgraphApp:
    """A minimal GraphQL-over-HTTP server for one subgraph schema."""

    def __init__(self, name: str, cache_size: int = 1000) -> None:
        self.name = name
        self.counters = Counters()
        self.schema = build_subgraph_schema(name, self.counters)
        self.cache_size = cache_size
        self._documents: dict[str, tuple[DocumentNode | None, list[dict[str, Any]]]] = {}
        self._compiled: dict[tuple[str, str | None], CompiledOperation | None] = {}

    def document(self, query: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
        cached = self._documents.get(query)
        if cached is not None:
            return cached
        try:
            doc = parse(query)
        except GraphQLError as exc:
            result: tuple[DocumentNode | None, list[dict[str, Any]]] = (None, [exc.formatted])
        else:
            errors = validate(self.schema, doc)
            result = (None, [e.formatted for e in errors]) if errors else (doc, [])
        if len(self._documents) >= self.cache_size:
            self._documents.clear()
        self._documents[query] = result
        return result

    def execute(self, body: bytes) -> tuple[int, bytes]:
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return 400, orjson.dumps({"errors": [{"message": "body is not JSON"}]})
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return 400, orjson.dumps({"errors": [{"message": "Must provide query string."}]})
        query, operation_name = payload["query"], payload.get("operationName")
        doc, errors = self.document(query)
        if doc is None:
            return 400, orjson.dumps({"errors": errors})
        key = (query, operation_name)
        compiled = self._compiled.get(key, False)
        if compiled is False:
            try:
                compiled = CompiledOperation(
                    self.schema, doc, operation_name, lambda v: _type_resolver(v, None, None)
                )
            except Unsupported:
                compiled = None
            if len(self._compiled) >= self.cache_size:
                self._compiled.clear()
            self._compiled[key] = compiled
        if compiled is not None:
            try:
                return 200, orjson.dumps({"data": compiled.execute(payload.get("variables"))})
            except Fallback:
                pass
        result = execute(
            self.schema,
            doc,
            variable_values=payload.get("variables"),
            operation_name=operation_name,
            field_resolver=_dict_resolver,
            type_resolver=_type_resolver,
        )
        out: dict[str, Any] = {}
        if result.errors:  # type: ignore[union-attr]
            out["errors"] = [e.formatted for e in result.errors]  # type: ignore[union-attr]
        out["data"] = result.data  # type: ignore[union-attr]
        return 200, orjson.dumps(out)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/graphql":
            chunks = []
            more = True
            while more:
                message = await receive()
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            counters = self.counters
            counters.requests += 1
            for name, _value in scope["headers"]:
                if name == b"x-request-id":
                    counters.with_request_id += 1
                counters.header_names.add(name.decode("latin-1"))
            status, body = self.execute(b"".join(chunks))
        elif path == "/stats":
            if method == "POST":
                self.counters.reset()
            status, body = (
                200,
                orjson.dumps(
                    {
                        "requests": self.counters.requests,
                        "representations": self.counters.representations,
                        "withRequestId": self.counters.with_request_id,
                        "headers": sorted(self.counters.header_names),
                    }
                ),
            )
        elif path == "/health":
            status, body = 200, b'{"status":"ok"}'
        else:
            status, body = 404, b'{"errors":[{"message":"not found"}]}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(SDL))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(
        SubgraphApp(args.name),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="on",
        backlog=4096,
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
