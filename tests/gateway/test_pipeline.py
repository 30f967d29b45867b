"""The request path in process: what a new transport (or an MCP server) gets from
`pipeline.Pipeline` without any logic of its own, and the edge configured off."""

from __future__ import annotations

import logging

import pytest

from media_gateway.gateway.edge import EdgeConfig
from media_gateway.gateway.pipeline import GraphQLRequest, Pipeline, PreparedOperation
from media_gateway.gateway.router import GraphQLResponse
from media_gateway.gateway.supergraph import Supergraph

from .helpers import Subgraphs, supergraph_sdl

BOOK = '{ book(id: "b1") { title } }'


def pipeline(subgraphs: Subgraphs, edge: EdgeConfig | None = None) -> Pipeline:
    return Pipeline.for_supergraph(
        Supergraph(supergraph_sdl("library")), subgraphs.clients(), edge=edge
    )


def request(query: str, **members: object) -> GraphQLRequest:
    return GraphQLRequest({"query": query, **members}, {}, {"x-request-id": "in-process"})


async def test_handle_answers_in_process(subgraphs: Subgraphs) -> None:
    result = await pipeline(subgraphs).handle(request(BOOK))
    assert result.body == {"data": {"book": {"title": "The Quiet Harbor"}}}
    assert not result.request_error and result.operation_kind == "query"


async def test_prepare_then_execute(subgraphs: Subgraphs) -> None:
    path = pipeline(subgraphs)
    prepared = await path.prepare(
        request("query B($id: ID!) { book(id: $id) { title } }", variables={"id": "b1"})
    )
    assert isinstance(prepared, PreparedOperation)
    assert prepared.kind == "query" and prepared.variables == {"id": "b1"}
    assert "book" in prepared.plan.to_text()
    result = await path.execute(prepared)
    assert result.body == {"data": {"book": {"title": "The Quiet Harbor"}}}
    assert result.plan is prepared.plan


@pytest.mark.parametrize(
    ("query", "members", "code"),
    [
        ("", {}, "BAD_REQUEST"),
        ("{ book(id: ", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", {}, "GRAPHQL_VALIDATION_FAILED"),
        (BOOK, {"operationName": "Missing"}, "BAD_USER_INPUT"),
        ("query B($id: ID!) { book(id: $id) { title } }", {}, "BAD_USER_INPUT"),
        (BOOK, {"variables": [1]}, "BAD_REQUEST"),
    ],
)
async def test_prepare_refuses_what_cannot_run(
    subgraphs: Subgraphs, query: str, members: dict[str, object], code: str
) -> None:
    refused = await pipeline(subgraphs).prepare(request(query, **members))
    assert isinstance(refused, GraphQLResponse) and refused.request_error
    assert refused.body["errors"][0]["extensions"]["code"] == code


async def test_a_transport_may_allow_queries_only(subgraphs: Subgraphs) -> None:
    get = request("mutation { __typename }")
    get.allowed_operations = frozenset({"query"})
    refused = await pipeline(subgraphs).handle(get)
    assert refused.body["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


async def test_the_edge_off_adds_no_header_and_no_log(
    subgraphs: Subgraphs, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="media_gateway.gateway.edge"):
        result = await pipeline(subgraphs, EdgeConfig.off()).handle(request(BOOK))
    assert result.headers == {}
    assert not [r for r in caplog.records if r.getMessage() == "graphql request"]


async def test_the_edge_on_in_process(
    subgraphs: Subgraphs, caplog: pytest.LogCaptureFixture
) -> None:
    edge = EdgeConfig(tracing=False)
    with caplog.at_level(logging.INFO, logger="media_gateway.gateway.edge"):
        result = await pipeline(subgraphs, edge).handle(request(BOOK))
    assert result.body == {"data": {"book": {"title": "The Quiet Harbor"}}}
    assert result.headers["cache-control"]
    assert [r for r in caplog.records if r.getMessage() == "graphql request"]
    deep = '{ book(id: "b1") ' + "{ author { books " * 15 + "{ title }" + " } }" * 15 + " }"
    refused = await pipeline(subgraphs, edge).handle(request(deep))
    assert refused.body["errors"][0]["extensions"]["code"] == "MAX_DEPTH_LIMIT"


def test_off_is_a_configuration() -> None:
    off = EdgeConfig.off()
    assert off.limits.max_depth is None and off.limits.max_batch_operations is None
    assert not (off.csrf or off.apq or off.resilience or off.metrics or off.tracing)
    assert off.limits.cpu_budget_seconds is not None  # the event loop stays guarded
