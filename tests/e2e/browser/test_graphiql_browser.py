"""GraphiQL, served by the gateway, runs a query in a real browser and shows the result.

Drives headless Chromium through chromedriver (selenium). Skipped, with the reason, when
Chromium, chromedriver, selenium or the built GraphiQL assets (scripts/build-graphiql.sh) are
not there.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
import strawberry
import uvicorn

from media_gateway.gateway.clients import InProcessClient
from media_gateway.gateway.graphiql import assets_available
from media_gateway.gateway.server import create_app

from chromium import skip_module_without_chromium  # isort: skip

pytestmark = pytest.mark.browser

PORT_RANGE = range(5200, 5300)  # test servers stay out of the product's own ports


skip_module_without_chromium(
    None if assets_available() else "GraphiQL assets are not built (run scripts/build-graphiql.sh)"
)

from graphiql_driver import (  # noqa: E402  # isort: skip
    open_graphiql,
    response,
    run,
    run_and_read_result,
    type_query,
    wait,
    wait_for_operation_name,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402

# --- a small subgraph, executed in-process by the gateway -----------------------------------


@strawberry.federation.type(keys=["id"])
class Title:
    id: strawberry.ID
    name: str
    year: int

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Title | None:
        return TITLES.get(str(id))


TITLES = {
    "1": Title(id=strawberry.ID("1"), name="Metropolis", year=1927),
    "2": Title(id=strawberry.ID("2"), name="Nosferatu", year=1922),
}


@strawberry.type
class Query:
    @strawberry.field
    def title(self, id: strawberry.ID) -> Title | None:
        return TITLES.get(str(id))

    @strawberry.field
    def titles(self) -> list[Title]:
        return list(TITLES.values())


SUBGRAPH_SCHEMA = strawberry.federation.Schema(query=Query)

SUPERGRAPH_SDL = """
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{
  query: Query
}

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, \
type: String, external: Boolean, override: String, usedOverridden: Boolean) \
repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) \
repeatable on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, \
resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) \
repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) \
repeatable on SCHEMA

scalar join__FieldSet

enum join__Graph {
  CATALOG @join__graph(name: "catalog", url: "http://catalog.invalid/graphql")
}

scalar link__Import

enum link__Purpose {
  SECURITY
  EXECUTION
}

type Query
  @join__type(graph: CATALOG)
{
  title(id: ID!): Title
  titles: [Title!]!
}

type Title
  @join__type(graph: CATALOG, key: "id")
{
  id: ID!
  name: String!
  year: Int!
}
""".replace("\\\n", "")


async def _context_factory(_headers: Mapping[str, str]) -> dict[str, Any]:
    return {}


# --- serving the gateway --------------------------------------------------------------------


def _bind_free_port() -> socket.socket:
    for port in PORT_RANGE:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        return sock
    raise RuntimeError(f"no free port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}")


@pytest.fixture(scope="module")
def gateway_url() -> Iterator[str]:
    app = create_app(
        SUPERGRAPH_SDL,
        {"catalog": InProcessClient(SUBGRAPH_SCHEMA, _context_factory)},
        graphiql=True,
    )
    sock = _bind_free_port()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="auto"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            pytest.fail("the gateway did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_graphql_endpoint_serves_graphiql_to_browsers(gateway_url: str) -> None:
    response = httpx.get(f"{gateway_url}/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/graphiql/assets/graphiql.js" in response.text
    asset = httpx.get(f"{gateway_url}/graphiql/assets/graphiql.js")
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]


def test_a_query_typed_in_graphiql_returns_data_through_the_gateway(
    driver: WebDriver, gateway_url: str
) -> None:
    open_graphiql(driver, f"{gateway_url}/graphql")
    type_query(driver, 'query FirstTitle { title(id: "1") { name year } }')
    wait_for_operation_name(driver, "FirstTitle")

    result = run_and_read_result(driver)

    assert result == {"data": {"title": {"name": "Metropolis", "year": 1927}}}


def test_the_explorer_plugin_lists_the_schema(driver: WebDriver, gateway_url: str) -> None:
    open_graphiql(driver, f"{gateway_url}/graphql")
    driver.find_element(By.CSS_SELECTOR, 'button[aria-label="Show GraphiQL Explorer"]').click()

    def explorer_fields(d: WebDriver) -> set[str]:
        panes = d.find_elements(By.CSS_SELECTOR, ".graphiql-plugin")
        text = panes[0].text if panes else ""
        return {"title", "titles"} & set(text.split())

    assert wait(driver, lambda d: explorer_fields(d) == {"title", "titles"}, "the Explorer")


def test_a_deferred_fragment_arrives_in_graphiql_after_the_initial_payload(
    driver: WebDriver, gateway_url: str
) -> None:
    # a fresh page (no explorer pane left open by another test): the editor shows only the
    # visible part of a line, so the query must fit
    open_graphiql(driver, f"{gateway_url}/graphql", fresh=True)
    type_query(driver, "query D { title(id: 2) { name ...@defer { year } } }")
    wait_for_operation_name(driver, "D")
    run(driver)

    def merged(d: WebDriver) -> dict[str, Any] | None:
        value = response(d)
        title = (value or {}).get("data", {}).get("title")
        return value if isinstance(title, dict) and "year" in title else None

    result = wait(driver, merged, "the deferred year merged into the response pane")
    assert result["data"] == {"title": {"name": "Nosferatu", "year": 1922}}
    assert "errors" not in result
