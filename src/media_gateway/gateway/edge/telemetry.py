"""Telemetry: Prometheus metrics, OpenTelemetry traces, structured logs, plans per trace.

Each gateway app has its own metrics registry (no process-wide state, so two gateways in
one process keep separate figures). Traces use the tracer provider given, else the
process's SDK provider when the operator configured one, else a private SDK provider so
that trace ids are real and propagate to subgraphs (W3C `traceparent`) even when no
exporter is installed. The query plan of every traced request is kept (a bounded number)
and served by trace id; a plan's text and JSON are rendered once per plan.

What it costs when nobody is looking: the private provider samples a share of the traces
(`sample_ratio`) and follows the caller's decision when the request carries a
`traceparent` (parent-based); a request that is not sampled gets no span objects of its
own (its trace context still reaches the subgraphs, marked not sampled), so no attribute,
no plan text and no kept plan is made for it. Metric series are looked up once per label
set, not per request.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger("media_gateway.gateway.edge")

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}
MAX_OPERATION_LABELS = 500
_NO_PARENT = Context()
_NO_SPAN = contextlib.nullcontext(None)


# the share of traces a gateway's own tracer provider records (a request whose caller sent
# a sampled `traceparent` is always recorded)
DEFAULT_SAMPLE_RATIO = 0.01


def _tracer_provider(given: TracerProvider | None, sample_ratio: float) -> TracerProvider:
    if given is not None:
        return given
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    current = trace.get_tracer_provider()
    if isinstance(current, SdkTracerProvider):
        return current
    ratio = min(1.0, max(0.0, sample_ratio))
    return SdkTracerProvider(sampler=ParentBased(TraceIdRatioBased(ratio)))


class Telemetry:
    def __init__(
        self,
        *,
        metrics: bool = True,
        tracing: bool = True,
        tracer_provider: TracerProvider | None = None,
        plans_kept: int = 200,
        sample_ratio: float = DEFAULT_SAMPLE_RATIO,
    ) -> None:
        self.metrics_enabled = metrics
        self.tracing = tracing
        self.registry = CollectorRegistry(auto_describe=True)
        self.propagator = TraceContextTextMapPropagator()
        self.tracer: Tracer = _tracer_provider(
            tracer_provider if tracing else None, sample_ratio
        ).get_tracer("media_gateway.gateway")
        # metric children by label values: `labels()` once per series, not per request
        self._series: dict[tuple[Any, ...], Any] = {}
        # plans rendered for sampled requests, by plan (the plan kept referenced)
        self._renderings: OrderedDict[int, tuple[Any, str, dict[str, Any]]] = OrderedDict()
        # the trace context last passed on for a request that is not sampled, as headers
        self._carried: tuple[Any, dict[str, str]] = (None, {})
        self.plans: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.plans_kept = plans_kept
        self._operation_labels: set[str] = set()
        r = self.registry
        self.requests = Counter(
            "gateway_requests",
            "GraphQL requests handled, by operation and outcome.",
            ("operation", "type", "outcome"),
            registry=r,
        )
        self.errors = Counter(
            "gateway_errors", "GraphQL errors returned, by extensions.code.", ("code",), registry=r
        )
        self.latency = Histogram(
            "gateway_request_duration_seconds",
            "Time to answer a GraphQL request, by operation.",
            ("operation",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.fetch_latency = Histogram(
            "gateway_subgraph_fetch_duration_seconds",
            "Time of one subgraph fetch (retries included), by subgraph and outcome.",
            ("subgraph", "outcome"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.cache_hits = Counter(
            "gateway_cache_hits", "Cache hits, by cache.", ("cache",), registry=r
        )
        self.cache_misses = Counter(
            "gateway_cache_misses", "Cache misses, by cache.", ("cache",), registry=r
        )
        self.active_subscriptions = Gauge(
            "gateway_active_subscriptions", "Subscriptions currently open.", registry=r
        )
        self.breaker_state = Gauge(
            "gateway_circuit_breaker_state",
            "Circuit breaker per subgraph: 0 closed, 1 half open, 2 open.",
            ("subgraph",),
            registry=r,
        )

    # ------------------------------------------------------------------ metrics
    def operation_label(self, name: str | None) -> str:
        label = name or "anonymous"
        if label in self._operation_labels:
            return label
        if len(self._operation_labels) >= MAX_OPERATION_LABELS:
            return "other"
        self._operation_labels.add(label)
        return label

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), *values)
        child = self._series.get(key)
        if child is None:
            child = self._series[key] = metric.labels(*values)
        return child

    def record_request(
        self, operation: str | None, kind: str | None, seconds: float, errors: list[Any]
    ) -> None:
        if not self.metrics_enabled:
            return
        label = self.operation_label(operation)
        outcome = "error" if errors else "ok"
        self._child(self.requests, label, kind or "unknown", outcome).inc()
        self._child(self.latency, label).observe(seconds)
        for e in errors:
            code = (e.get("extensions") or {}).get("code") if isinstance(e, Mapping) else None
            self._child(self.errors, str(code or "INTERNAL")).inc()

    def cache(self, cache: str, hit: bool) -> None:
        if self.metrics_enabled:
            self._child(self.cache_hits if hit else self.cache_misses, cache).inc()

    def breaker_changed(self, subgraph: str, state: str) -> None:
        self.breaker_state.labels(subgraph).set(_BREAKER_VALUES.get(state, 0))
        level = logging.WARNING if state == "open" else logging.INFO
        log.log(level, "circuit breaker %s: %s", subgraph, state, extra={"subgraph": subgraph})

    def subscription_opened(self) -> None:
        self.active_subscriptions.inc()

    def subscription_closed(self) -> None:
        self.active_subscriptions.dec()

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    # ------------------------------------------------------------------ tracing
    def extract(self, headers: Mapping[str, str]) -> Context:
        return self.propagator.extract(dict(headers))

    @contextlib.contextmanager
    def request_span(self, headers: Mapping[str, str]) -> Iterator[Any]:
        """The request's server span, or None when tracing is off or the request is not
        sampled (its context is current all the same, so that subgraphs receive it)."""
        if not self.tracing:
            yield None
            return
        context = self.extract(headers) if "traceparent" in headers else _NO_PARENT
        with self.tracer.start_as_current_span(
            "graphql.request", context=context, kind=SpanKind.SERVER
        ) as span:
            yield span if span.is_recording() else None

    def fetch_span(
        self, subgraph: str, headers: dict[str, str]
    ) -> contextlib.AbstractContextManager[Any]:
        """A client span per subgraph fetch of a sampled request; its context goes to the
        subgraph. A request that is not sampled passes its own context on, and no span."""
        if not self.tracing:
            return _NO_SPAN
        current = trace.get_current_span()
        if not current.is_recording():
            headers.pop("traceparent", None)
            headers.pop("tracestate", None)
            context = current.get_span_context()
            if context is not self._carried[0]:  # the same for every fetch of a request
                carrier: dict[str, str] = {}
                self.propagator.inject(carrier)
                self._carried = (context, carrier)
            headers.update(self._carried[1])
            return _NO_SPAN
        return self._fetch_span(subgraph, headers)

    @contextlib.contextmanager
    def _fetch_span(self, subgraph: str, headers: dict[str, str]) -> Iterator[Any]:
        with self.tracer.start_as_current_span(
            f"subgraph.fetch {subgraph}", kind=SpanKind.CLIENT
        ) as span:
            span.set_attribute("graphql.subgraph.name", subgraph)
            headers.pop("traceparent", None)
            headers.pop("tracestate", None)
            self.propagator.inject(headers)
            try:
                yield span
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, exc.__class__.__name__))
                raise

    def fetch_done(self, subgraph: str, seconds: float, outcome: str) -> None:
        if self.metrics_enabled:
            self._child(self.fetch_latency, subgraph, outcome).observe(seconds)

    @staticmethod
    def trace_id(span: Any) -> str | None:
        if span is None:
            return None
        ctx = span.get_span_context()
        return format(ctx.trace_id, "032x") if ctx.is_valid else None

    def plan_text(self, plan: Any) -> str:
        """The plan's text, rendered once per plan (plans are cached per document)."""
        return str(self._rendered(plan)[1])

    def plan_json(self, plan: Any) -> dict[str, Any]:
        """The plan as JSON, rendered once per plan; shared, never to be changed."""
        rendered: dict[str, Any] = self._rendered(plan)[2]
        return rendered

    def _rendered(self, plan: Any) -> tuple[Any, str, dict[str, Any]]:
        hit = self._renderings.get(id(plan))
        if hit is None or hit[0] is not plan:
            hit = self._renderings[id(plan)] = (plan, plan.to_text(), plan.to_json())
            while len(self._renderings) > self.plans_kept:
                self._renderings.popitem(last=False)
        return hit

    def keep_plan(self, trace_id: str, record: dict[str, Any]) -> None:
        self.plans[trace_id] = record
        self.plans.move_to_end(trace_id)
        while len(self.plans) > self.plans_kept:
            self.plans.popitem(last=False)
