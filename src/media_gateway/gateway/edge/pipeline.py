"""The edge pipeline: the stages around `Router.execute`, for one gateway app.

`Edge.http_refusal` runs before the body is read (CSRF, body size); `Edge.handle` runs per
GraphQL request: APQ / persisted-document resolution → text prescan → parse and validate
(cached by the router) → operation limits and static cost → rate limit → response cache →
plan and execute → cache hints. Every refusal is a GraphQL error with an
`extensions.code`, returned before any subgraph is called.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from graphql import DocumentNode, OperationDefinitionNode

from media_gateway.platform.logging import note_request

from .. import deadline
from ..clients import SubgraphClient
from ..operation import OperationError, select_operation
from ..router import LRU, GraphQLResponse
from .apq import APQError, APQStore, MemoryAPQStore, RedisAPQStore, resolve_apq, sha256_hex
from .cache import NO_STORE, CachePolicy, CachePolicyModel, ResponseCache
from .config import EdgeConfig
from .csrf import csrf_refusal
from .limits import (
    CostModel,
    LimitError,
    Measures,
    check_measures,
    figure,
    measure,
    only_introspection,
    prescan,
    reported,
)
from .persisted import Manifest, document_id
from .ratelimiting import client_key, make_limiter, rate_limit_headers
from .resilience import CircuitBreaker, EdgeClient, HeaderRules, RetryPolicy
from .telemetry import Telemetry

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from ..router import Router
    from ..supergraph import Supergraph

log = logging.getLogger("media_gateway.gateway.edge")

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def _error(message: str, code: str, **ext: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **ext}}


def _refused(
    error: dict[str, Any],
    status: int | None = None,
    headers: dict[str, str] | None = None,
) -> GraphQLResponse:
    return GraphQLResponse(
        {"errors": [error]}, request_error=True, status=status, headers=headers or {}
    )


class RequestInfo:
    """What the edge needs from an HTTP request (transport-neutral)."""

    def __init__(
        self, headers: Mapping[str, str], address: str | None = None, method: str = "POST"
    ) -> None:
        self.headers = headers
        self.address = address
        self.method = method


@dataclass
class Admission:
    """A request the edge let through: the query text (resolved from APQ or a persisted
    document id) and, once checked, its document, operation, client key and cost, and the
    rate-limit headers for the response."""

    query: str | None
    id: str | None = None
    name: str | None = None
    document: DocumentNode | None = None
    op: OperationDefinitionNode | None = None
    client: str | None = None
    cost: int = 0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Batch:
    """The operations of one batched HTTP request, whose limits count them together."""

    size: int
    cost: int = 0


class Edge:
    def __init__(
        self,
        config: EdgeConfig,
        *,
        tracer_provider: TracerProvider | None = None,
        manifest: Manifest | None = None,
    ) -> None:
        self.config = config
        self.telemetry = Telemetry(
            metrics=config.metrics,
            tracing=config.tracing,
            tracer_provider=tracer_provider,
            plans_kept=config.plans_kept,
            sample_ratio=config.trace_sample_ratio,
        )
        self.apq: APQStore | None = None
        if config.apq:
            self.apq = (
                RedisAPQStore(config.redis_url, config.redis_prefix, config.apq_ttl_seconds)
                if config.redis_url
                else MemoryAPQStore(config.apq_cache_size)
            )
        self.manifest = (
            manifest
            if manifest is not None
            else Manifest.load(config.persisted_manifests)
            if config.persisted_mode != "off"
            else Manifest()
        )
        self.header_rules = HeaderRules(config.propagate_headers)
        self.breakers: dict[str, CircuitBreaker] = {}
        self.clients: dict[str, EdgeClient] = {}
        self.response_cache = ResponseCache(config.response_cache_size)
        self._limiter: Any = None
        # per document text and operation: what the analyses found
        self._measures: LRU[tuple[str, str | None], Measures] = LRU(1000)
        self._policies: LRU[tuple[str, str | None], CachePolicy] = LRU(1000)
        self._models: dict[int, tuple[Supergraph, CostModel, CachePolicyModel]] = {}

    # ------------------------------------------------------------------ assembly
    def forwarded_header_names(self) -> frozenset[str]:
        return self.header_rules.all_names() | {self.config.client_id_header}

    def breaker(self, subgraph: str) -> CircuitBreaker:
        b = self.breakers.get(subgraph)
        if b is None:
            b = self.breakers[subgraph] = CircuitBreaker(
                subgraph,
                self.config.breaker_failure_threshold,
                self.config.breaker_reset_seconds,
                on_change=self.telemetry.breaker_changed,
            )
            self.telemetry.breaker_state.labels(subgraph).set(0)
        return b

    def wrap_clients(self, clients: Mapping[str, SubgraphClient]) -> dict[str, SubgraphClient]:
        retry = RetryPolicy(
            self.config.retries,
            self.config.retry_backoff_seconds,
            self.config.retry_backoff_max_seconds,
        )
        wrapped: dict[str, SubgraphClient] = {}
        for name, client in clients.items():
            inner = client.inner if isinstance(client, EdgeClient) else client
            edge_client = EdgeClient(
                name,
                inner,
                breaker=self.breaker(name),
                retry=retry,
                timeout=self.config.subgraph_timeouts.get(name, self.config.subgraph_timeout),
                headers=self.header_rules if self.config.propagate_headers else None,
                dedup=self.config.dedup,
                observer=self.telemetry,
            )
            self.clients[name] = edge_client
            wrapped[name] = edge_client
        return wrapped

    def _models_for(self, supergraph: Supergraph) -> tuple[CostModel, CachePolicyModel]:
        hit = self._models.get(id(supergraph))
        if hit is None or hit[0] is not supergraph:
            self._models.clear()  # a new supergraph replaces the old one
            self._policies.clear()  # its cache hints may differ
            hit = self._models[id(supergraph)] = (
                supergraph,
                CostModel(supergraph.schema, self.config.limits.default_list_size),
                CachePolicyModel(supergraph.schema, self.config.cache_hints),
            )
        return hit[1], hit[2]

    @property
    def limiter(self) -> Any:
        if self._limiter is None:
            self._limiter = make_limiter(self.config.redis_url, self.config.redis_prefix + "rl:")
        return self._limiter

    async def aclose(self) -> None:
        if self.apq is not None:
            await self.apq.aclose()
        close = getattr(self._limiter, "aclose", None)
        if close is not None:
            await close()

    # ------------------------------------------------------------------ HTTP stage
    def http_refusal(self, headers: Mapping[str, str]) -> tuple[int, dict[str, Any]] | None:
        """CSRF and declared body size, before the body is read."""
        if self.config.csrf:
            message = csrf_refusal(headers, self.config.csrf_required_headers)
            if message is not None:
                self.telemetry.record_request(None, None, 0.0, [{"extensions": {"code": "CSRF"}}])
                return 400, {"errors": [_error(message, "CSRF_PREVENTED")]}
        limit = self.config.limits.max_body_bytes
        length = headers.get("content-length")
        if limit is not None and length is not None and length.isdigit() and int(length) > limit:
            return 413, {
                "errors": [
                    _error(
                        f"The request body is {length} bytes; the limit is {limit}.",
                        "PAYLOAD_TOO_LARGE",
                        limit=limit,
                    )
                ]
            }
        return None

    # ------------------------------------------------------------------ GraphQL stage
    async def handle(
        self,
        router: Router,
        params: Mapping[str, Any],
        request: RequestInfo,
        forwarded: Mapping[str, str],
        *,
        expose_plan: bool = False,
        allowed_operations: frozenset[str] | None = None,
        admitted: Admission | None = None,
        batch: Batch | None = None,
    ) -> GraphQLResponse:
        """Run one request through the edge (`admitted`: `admit` has already passed it;
        `batch`: the batched request it is part of), under the request deadline."""
        started = time.perf_counter()
        name = params.get("operationName")
        op_name = name if isinstance(name, str) else None
        info: dict[str, Any] = {}
        with (
            deadline.within(self.config.request_timeout),
            self.telemetry.request_span(request.headers) as span,
        ):
            result = await self._handle(
                router,
                params,
                request,
                forwarded,
                span,
                expose_plan,
                allowed_operations,
                info,
                admitted,
                batch,
            )
            op_name = op_name or info.get("name")
            seconds = time.perf_counter() - started
            errors = result.body.get("errors") or []
            trace_id = Telemetry.trace_id(span)
            if span is not None:
                span.set_attribute("graphql.operation.name", op_name or "")
                if result.operation_kind:
                    span.set_attribute("graphql.operation.type", result.operation_kind)
                if errors:
                    codes = sorted(
                        {
                            str((e.get("extensions") or {}).get("code"))
                            for e in errors
                            if isinstance(e, dict)
                        }
                    )
                    span.set_attribute("graphql.error.codes", codes)
                if result.plan is not None:
                    span.set_attribute("graphql.query_plan", result.plan.to_text())
            if trace_id is not None and result.plan is not None:
                self.telemetry.keep_plan(
                    trace_id,
                    {
                        "traceId": trace_id,
                        "operationName": op_name,
                        "queryPlan": result.plan.to_json(),
                        "queryPlanText": result.plan.to_text(),
                    },
                )
            self.telemetry.record_request(op_name, result.operation_kind, seconds, errors)
            note_request(
                operation_name=op_name,
                error_codes=[
                    (e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)
                ],
            )
            log.info(
                "graphql request",
                extra={
                    "operation_name": op_name,
                    "operation_id": info.get("id"),
                    "operation_type": result.operation_kind,
                    "trace_id": trace_id,
                    "duration_ms": round(seconds * 1000, 3),
                    "error_codes": [
                        (e.get("extensions") or {}).get("code")
                        for e in errors
                        if isinstance(e, dict)
                    ],
                },
            )
            if not self.config.field_suggestions and errors:
                for e in errors:
                    if isinstance(e, dict) and isinstance(e.get("message"), str):
                        e["message"] = _SUGGESTION.sub("", e["message"])
            return result

    async def _resolve_query(
        self, params: Mapping[str, Any]
    ) -> tuple[str | None, bool, GraphQLResponse | None]:
        """The query text, whether it is a listed operation, or a refusal."""
        mode = self.config.persisted_mode
        query = params.get("query")
        ext = params.get("extensions")
        pq = ext.get("persistedQuery") if isinstance(ext, Mapping) else None
        if mode != "off":
            doc_id = document_id(params)
            if doc_id is not None:
                entry = self.manifest.get(doc_id)
                if entry is not None:
                    return entry.body, True, None
                if pq is None:  # an explicit document id that is not in the manifests
                    return (
                        None,
                        False,
                        _refused(
                            _error(
                                f"Unknown persisted document id '{doc_id}'.",
                                "PERSISTED_QUERY_NOT_FOUND",
                            )
                        ),
                    )
        if isinstance(pq, Mapping):
            try:
                query, hit = await resolve_apq(
                    self.apq, pq, query if isinstance(query, str) else None
                )
            except APQError as exc:
                # not found is part of the handshake: the client retries with the query
                status = 200 if exc.code == "PERSISTED_QUERY_NOT_FOUND" else None
                if exc.code == "PERSISTED_QUERY_NOT_FOUND":
                    self.telemetry.cache("apq", False)
                return None, False, _refused(exc.to_dict(), status)
            if hit:
                self.telemetry.cache("apq", True)
        return (query if isinstance(query, str) else None), False, None

    async def admit(
        self,
        router: Router,
        params: Mapping[str, Any],
        request: RequestInfo,
        batch: Batch | None = None,
    ) -> Admission | GraphQLResponse:
        """Every check that comes before planning, for any transport: APQ / persisted
        document resolution, text prescan, parse and validation, safelist, introspection,
        operation limits, static cost, rate limit and cost budget. Returns the refusal, or
        what was admitted (its `document` is None when the router should report the
        problem itself, e.g. a missing query)."""
        cfg = self.config
        limits = cfg.limits
        query, listed, refusal = await self._resolve_query(params)
        if refusal is not None:
            return refusal
        operation_name = params.get("operationName")
        admitted = Admission(query)
        if not isinstance(query, str) or not query.strip():
            return admitted  # the router reports the missing query
        limit_error = prescan(query, limits)
        if limit_error is not None:
            return _refused(limit_error.to_dict())
        admitted.id = sha256_hex(query)
        if not listed and cfg.persisted_mode != "off":
            listed = self.manifest.id_of(query) is not None  # the text of a listed operation
        if cfg.persisted_mode == "log-unknown" and not listed:
            log.warning(
                "operation not in the persisted manifests",
                extra={"operation_name": operation_name, "operation_id": admitted.id},
            )
        doc = await router.load_document(query, limits.max_tokens, self._precheck(query))
        if doc.errors or doc.document is None:
            errors = [dict(e) for e in doc.errors]
            for e in errors:
                if "Document contains more than" in str(e.get("message", "")):
                    e["extensions"] = {
                        **(e.get("extensions") or {}),
                        "code": "MAX_TOKENS_LIMIT",
                        "limit": limits.max_tokens,
                    }
            return GraphQLResponse({"errors": errors}, request_error=True)
        document = doc.document
        try:
            op = select_operation(
                document, operation_name if isinstance(operation_name, str) else None
            )
        except OperationError:
            return admitted  # the router reports it
        admitted.name = op.name.value if op.name else None
        if (
            cfg.persisted_mode == "safelist"
            and not listed
            and not (cfg.safelist_allows_introspection and only_introspection(document, op))
        ):
            return _refused(
                _error(
                    "Only operations from the persisted manifests may run on this gateway; "
                    "send a listed document id.",
                    "PERSISTED_QUERY_NOT_IN_LIST",
                )
            )
        measures = self._measure(query, document, op)
        if not cfg.introspection and measures.introspection:
            return _refused(
                _error("Introspection is disabled on this gateway.", "INTROSPECTION_DISABLED")
            )
        limit_error = check_measures(measures, limits)
        if limit_error is not None:
            return _refused(limit_error.to_dict())
        variables = params.get("variables")
        raw_vars = variables if isinstance(variables, Mapping) else {}
        cost = self._models_for(router.supergraph)[0].cost(document, op, raw_vars)
        if batch is not None and batch.size > 1:
            batch.cost += cost
            if limits.max_cost is not None and batch.cost > limits.max_cost:
                return _refused(
                    LimitError(
                        f"The batch's estimated cost is at least {figure(batch.cost)}; "
                        f"the limit is {limits.max_cost} for all its operations together.",
                        "COST_ESTIMATED_TOO_EXPENSIVE",
                        limits.max_cost,
                        reported(batch.cost),
                    ).to_dict()
                )
        if limits.max_cost is not None and cost > limits.max_cost:
            return _refused(
                LimitError(
                    f"The operation's estimated cost is {figure(cost)}; "
                    f"the limit is {limits.max_cost}.",
                    "COST_ESTIMATED_TOO_EXPENSIVE",
                    limits.max_cost,
                    reported(cost),
                ).to_dict()
            )
        client = client_key(request.headers, request.address, cfg)
        headers = admitted.headers
        if cfg.rate_limit is not None:
            decision = await self.limiter.hit(client, cfg.rate_limit, cfg.rate_limit_window_seconds)
            headers.update(
                rate_limit_headers(cfg.rate_limit, decision, cfg.rate_limit_window_seconds)
            )
            if not decision.allowed:
                retry_after = max(1, int(-(-float(decision.retry_after or 0) // 1)))
                return _refused(
                    _error(
                        f"Too many requests; retry after {retry_after} seconds.",
                        "RATE_LIMITED",
                        retryAfter=retry_after,
                    ),
                    429,
                    headers,
                )
        if limits.cost_budget_per_minute is not None and cost > 0:
            refusal = await self._spend_budget(client, cost, headers)
            if refusal is not None:
                return refusal
        admitted.document, admitted.op = document, op
        admitted.client, admitted.cost = client, cost
        return admitted

    async def _handle(
        self,
        router: Router,
        params: Mapping[str, Any],
        request: RequestInfo,
        forwarded: Mapping[str, str],
        span: Any,
        expose_plan: bool,
        allowed_operations: frozenset[str] | None,
        info: dict[str, Any],
        admitted: Admission | None,
        batch: Batch | None,
    ) -> GraphQLResponse:
        passed = (
            admitted if admitted is not None else await self.admit(router, params, request, batch)
        )
        if isinstance(passed, GraphQLResponse):
            return passed
        info["id"], info["name"] = passed.id, passed.name
        query = passed.query
        variables = params.get("variables")
        operation_name = params.get("operationName")

        async def run() -> GraphQLResponse:
            return await router.execute(
                query,
                variables,
                operation_name,
                forwarded,
                expose_plan=expose_plan,
                allowed_operations=allowed_operations,
                caller_headers=request.headers,
            )

        document, op = passed.document, passed.op
        if document is None or op is None:
            return await run()
        if span is not None:
            span.set_attribute("graphql.operation.cost", passed.cost)
        headers = passed.headers
        policy = NO_STORE
        if self.config.response_cache and query is not None:
            key = (query, op.name.value if op.name else None)
            cached_policy = self._policies.get(key)
            if cached_policy is None:
                cached_policy = self._models_for(router.supergraph)[1].policy(document, op)
                self._policies.put(key, cached_policy)
            policy = cached_policy
        cache_key: bytes | None = None
        if policy.cacheable and not expose_plan:
            cache_key = orjson.dumps(
                [
                    query,
                    operation_name,
                    variables if isinstance(variables, Mapping) else {},
                    passed.client if policy.scope == "PRIVATE" else None,
                ],
                option=orjson.OPT_SORT_KEYS,
            )
            hit = self.response_cache.get(cache_key)
            self.telemetry.cache("response", hit is not None)
            if hit is not None:
                body, age = hit
                headers["cache-control"] = policy.header()
                headers["age"] = str(age)
                return GraphQLResponse(
                    orjson.loads(orjson.dumps(body)), operation_kind="query", headers=headers
                )
        result = await run()
        result.headers.update(headers)
        if result.request_error or result.body.get("errors"):
            result.headers["cache-control"] = "no-store"
        else:
            result.headers["cache-control"] = policy.header()
            if cache_key is not None:
                self.response_cache.put(
                    cache_key, orjson.loads(orjson.dumps(result.body)), policy.max_age
                )
        return result

    def _precheck(self, query: str) -> Callable[[DocumentNode], dict[str, Any] | None]:
        """Refuse a document over a limit from its syntax alone, before it is validated (an
        explosive document costs more to validate than to measure): every operation of it
        is measured, fragments summarised once each."""

        def check(document: DocumentNode) -> dict[str, Any] | None:
            for op in document.definitions:
                if isinstance(op, OperationDefinitionNode):
                    error = check_measures(self._measure(query, document, op), self.config.limits)
                    if error is not None:
                        return error.to_dict()
            return None

        return check

    def _measure(self, query: str, document: DocumentNode, op: OperationDefinitionNode) -> Measures:
        key = (query, op.name.value if op.name else None)
        m = self._measures.get(key)
        if m is None:
            m = measure(document, op)
            self._measures.put(key, m)
        return m

    async def _spend_budget(
        self, client: str, cost: int, headers: dict[str, str]
    ) -> GraphQLResponse | None:
        budget = self.config.limits.cost_budget_per_minute
        assert budget is not None
        decision = await self.limiter.hit("cost:" + client, budget, 60, cost=reported(cost))
        if decision.allowed:
            return None
        retry_after = max(1, int(-(-float(decision.retry_after or 0) // 1)))
        headers["retry-after"] = str(retry_after)
        return _refused(
            _error(
                f"The client's cost budget of {budget} per minute is spent; "
                f"retry after {retry_after} seconds.",
                "RATE_LIMITED",
                retryAfter=retry_after,
                cost=reported(cost),
            ),
            429,
            headers,
        )
