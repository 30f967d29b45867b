"""Metrics, traces, logs and plans for a federated query."""

from __future__ import annotations

import pytest

from .conftest import GatewayFactory

FEDERATED = "query Reviewed { products(first: 2) { name reviews { stars } } }"
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_metrics_and_trace_for_a_federated_query(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await make_gateway()
    with caplog.at_level("INFO", logger="media_gateway.gateway.edge"):
        r = await gw.query(FEDERATED, headers={"traceparent": PARENT})
    assert r.json()["data"]["products"][1] == {"name": "Product 2", "reviews": [{"stars": 4}]}

    metrics = (await gw.http.get("/metrics")).text
    assert 'gateway_requests_total{operation="Reviewed",outcome="ok",type="query"} 1.0' in metrics
    assert 'gateway_request_duration_seconds_count{operation="Reviewed"} 1.0' in metrics
    assert (
        'gateway_subgraph_fetch_duration_seconds_count{outcome="ok",subgraph="products"} 1.0'
        in metrics
    )
    assert (
        'gateway_subgraph_fetch_duration_seconds_count{outcome="ok",subgraph="reviews"} 1.0'
        in metrics
    )
    assert "gateway_active_subscriptions 0.0" in metrics

    spans = gw.exporter.get_finished_spans()
    request = next(s for s in spans if s.name == "graphql.request")
    fetches = [s for s in spans if s.name.startswith("subgraph.fetch")]
    assert sorted(s.attributes["graphql.subgraph.name"] for s in fetches) == ["products", "reviews"]
    trace_id = format(request.context.trace_id, "032x")
    assert trace_id == "0af7651916cd43dd8448eb211c80319c"  # continues the client's trace
    assert all(
        s.parent is not None and s.parent.span_id == request.context.span_id for s in fetches
    )
    assert request.attributes["graphql.operation.name"] == "Reviewed"
    assert "Fetch" in str(request.attributes["graphql.query_plan"])

    # each subgraph received the W3C context of its own fetch span
    from . import shop

    for name, span in ((s.attributes["graphql.subgraph.name"], s) for s in fetches):
        sent = shop.SEEN_HEADERS[str(name)][-1]["traceparent"]
        assert sent == f"00-{trace_id}-{format(span.context.span_id, '016x')}-01"

    plan = (await gw.http.get(f"/plans/{trace_id}")).json()
    assert plan["operationName"] == "Reviewed"
    assert "products" in plan["queryPlanText"]
    assert (await gw.http.get("/plans/" + "0" * 32)).status_code == 404

    record = next(r for r in caplog.records if r.getMessage() == "graphql request")
    assert record.operation_name == "Reviewed"  # type: ignore[attr-defined]
    assert len(record.operation_id) == 64  # type: ignore[attr-defined]
    assert record.trace_id == trace_id  # type: ignore[attr-defined]


async def test_errors_counted_by_code(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway()
    await gw.query("{ nope }")
    metrics = (await gw.http.get("/metrics")).text
    assert 'gateway_errors_total{code="GRAPHQL_VALIDATION_FAILED"} 1.0' in metrics


def test_unsampled_requests_make_no_spans_but_pass_their_context_on() -> None:
    from media_gateway.gateway.edge.telemetry import Telemetry

    telemetry = Telemetry(sample_ratio=0.0)
    with telemetry.request_span({}) as span:
        assert span is None  # nothing recorded: no attributes, no plan text, no kept plan
        headers: dict[str, str] = {}
        with telemetry.fetch_span("products", headers) as fetch:
            assert fetch is None
        version, trace_id, _parent, flags = headers["traceparent"].split("-")
        assert version == "00" and int(trace_id, 16) != 0
        assert int(flags, 16) & 1 == 0  # not sampled


def test_a_sampled_caller_is_always_followed() -> None:
    from media_gateway.gateway.edge.telemetry import Telemetry

    telemetry = Telemetry(sample_ratio=0.0)
    with telemetry.request_span({"traceparent": PARENT}) as span:
        assert span is not None and span.is_recording()
        assert Telemetry.trace_id(span) == "0af7651916cd43dd8448eb211c80319c"
        headers: dict[str, str] = {}
        with telemetry.fetch_span("products", headers) as fetch:
            assert fetch is not None and fetch.is_recording()
        assert int(headers["traceparent"].rsplit("-", 1)[1], 16) & 1 == 1
    unsampled = PARENT[:-2] + "00"
    with telemetry.request_span({"traceparent": unsampled}) as span:
        assert span is None


def test_every_request_is_sampled_at_ratio_one() -> None:
    from media_gateway.gateway.edge.telemetry import Telemetry

    telemetry = Telemetry(sample_ratio=1.0)
    with telemetry.request_span({}) as span:
        assert span is not None and span.is_recording()
