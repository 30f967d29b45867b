"""The edge's layers of the request path, for one gateway app (see `pipeline.py`).

Always present, each as its `EdgeConfig` says (off is a configuration): `http_refusal`
before the body is read (CSRF, body size); `admit` before planning (APQ / persisted-document
resolution → text prescan → parse and validate, by the router → operation limits and static
cost → rate limit); `cached` around execution (response cache, cache hints); `observed`
around the whole request (deadline, span, metrics, the request log); `wrap_clients` around
each subgraph client (resilience). Every refusal is a GraphQL error with an
`extensions.code`, returned before any subgraph is called.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from graphql import DocumentNode, OperationDefinitionNode

from media_gateway.platform.logging import note_request

from .. import deadline
from ..clients import SubgraphClient
from ..operation import OperationError, select_operation
from ..router import GraphQLResponse
from .apq import APQError, APQStore, MemoryAPQStore, RedisAPQStore, resolve_apq, sha256_hex
from .cache import NO_STORE, CachePolicyModel, ResponseCache
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


_OPERATION_ID = "operation id"  # the analyses' key of the document's SHA-256


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
    # the selected operation, or why none could be selected
    op: OperationDefinitionNode | OperationError | None = None
    client: str | None = None
    cost: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    # the edge's analyses of the document, cached with it by the router
    analyses: dict[Any, Any] = field(default_factory=dict)
    # every check of the edge ran (else the request checks report what stopped them)
    checked: bool = False


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
        """The subgraph layer: each client behind its timeout, retries, circuit breaker,
        de-duplication, header rules and fetch telemetry (as they are configured: with
        resilience off, the clients as they are)."""
        if not self.config.resilience:
            return {
                name: client.inner if isinstance(client, EdgeClient) else client
                for name, client in clients.items()
            }
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
    async def observed(
        self,
        params: Mapping[str, Any],
        request: RequestInfo,
        call: Callable[[], Awaitable[GraphQLResponse]],
        admission: Callable[[], Admission | None],
    ) -> GraphQLResponse:
        """The telemetry layer around one request (`call` prepares and executes it): the
        request deadline, its span, metrics, the access-log notes and the request log, and
        field suggestions removed when so configured. `admission`: what the edge admitted
        (its operation id and name for the log), once `call` has run."""
        started = time.perf_counter()
        name = params.get("operationName")
        op_name = name if isinstance(name, str) else None
        with (
            deadline.within(self.config.request_timeout),
            self.telemetry.request_span(request.headers) as span,
        ):
            result = await call()
            admitted = admission()
            op_name = op_name or (admitted.name if admitted is not None else None)
            seconds = time.perf_counter() - started
            errors = result.body.get("errors") or []
            trace_id = Telemetry.trace_id(span)
            if span is not None:
                if admitted is not None and admitted.checked:
                    span.set_attribute("graphql.operation.cost", admitted.cost)
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
                    span.set_attribute("graphql.query_plan", self.telemetry.plan_text(result.plan))
            if trace_id is not None and result.plan is not None:
                self.telemetry.keep_plan(
                    trace_id,
                    {
                        "traceId": trace_id,
                        "operationName": op_name,
                        "queryPlan": self.telemetry.plan_json(result.plan),
                        "queryPlanText": self.telemetry.plan_text(result.plan),
                    },
                )
            self.telemetry.record_request(op_name, result.operation_kind, seconds, errors)
            if self.config.request_log:
                codes_list = [
                    (e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)
                ]
                fields: dict[str, Any] = {
                    "operation_name": op_name,
                    "operation_id": admitted.id if admitted is not None else None,
                    "operation_type": result.operation_kind,
                    "trace_id": trace_id,
                    "error_codes": codes_list,
                }
                # one line per request: the HTTP access line carries the operation; operations
                # without one (over a WebSocket, or with no access log) get their own line
                if not note_request(**fields):
                    fields["duration_ms"] = round(seconds * 1000, 3)
                    log.info("graphql request", extra=fields)
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
        if not self.config.request_extensions:
            return (query if isinstance(query, str) else None), False, None
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
        """The document and every check of the edge that comes before planning: APQ /
        persisted document resolution, text prescan, parse and validation (the router's,
        with the edge's analyses cached beside the document), operation selection,
        safelist, introspection, operation limits, static cost, rate limit and cost budget.
        Returns the refusal, or what was admitted: `checked` when every check ran (else the
        request checks that follow report the problem, e.g. a missing query or an unknown
        operation name)."""
        cfg = self.config
        limits = cfg.limits
        query, listed, refusal = await self._resolve_query(params)
        if refusal is not None:
            return refusal
        operation_name = params.get("operationName")
        admitted = Admission(query)
        if not isinstance(query, str) or not query.strip():
            return admitted  # the request checks report the missing query
        doc = router.cached_document(query)
        if doc is None:  # a text seen before passed the prescan then
            limit_error = prescan(query, limits)
            if limit_error is not None:
                return _refused(limit_error.to_dict())
            doc = await router.load_document(query, limits.max_tokens, self._precheck)
        # the document's id (as APQ and persisted documents name it), once per cached document
        admitted.id = doc.analyses.get(_OPERATION_ID) or doc.analyses.setdefault(
            _OPERATION_ID, sha256_hex(query)
        )
        if not listed and cfg.persisted_mode != "off":
            listed = self.manifest.id_of(query) is not None  # the text of a listed operation
        if cfg.persisted_mode == "log-unknown" and not listed:
            log.warning(
                "operation not in the persisted manifests",
                extra={"operation_name": operation_name, "operation_id": admitted.id},
            )
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
        document = admitted.document = doc.document
        admitted.analyses = doc.analyses
        try:
            op = select_operation(
                document, operation_name if isinstance(operation_name, str) else None
            )
        except OperationError as exc:
            admitted.op = exc
            return admitted  # the request checks report it
        admitted.op = op
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
        if not cfg.introspection or self._measures_limits:
            measures = self._measure(doc.analyses, document, op)
            if not cfg.introspection and measures.introspection:
                return _refused(
                    _error("Introspection is disabled on this gateway.", "INTROSPECTION_DISABLED")
                )
            limit_error = check_measures(measures, limits)
            if limit_error is not None:
                return _refused(limit_error.to_dict())
        cost = 0
        if self._counts_cost:
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
        admitted.client, admitted.cost = client, cost
        admitted.checked = True
        return admitted

    @property
    def _counts_cost(self) -> bool:
        """Whether anything uses the static cost (a limit, a budget, a batch or a span)."""
        limits = self.config.limits
        return (
            limits.max_cost is not None
            or limits.cost_budget_per_minute is not None
            or self.config.tracing
        )

    def finished(self, result: GraphQLResponse, admitted: Admission | None) -> GraphQLResponse:
        """A result that did not come from the response cache layer (a request error the
        request checks found after admission, or a planning error): the admission's
        response headers, and nothing cacheable."""
        if admitted is not None and admitted.checked:
            result.headers.update(admitted.headers)
            if self.config.cache_control:
                result.headers["cache-control"] = "no-store"
        return result

    async def cached(
        self,
        router: Router,
        admitted: Admission,
        params: Mapping[str, Any],
        expose_plan: bool,
        run: Callable[[], Awaitable[GraphQLResponse]],
    ) -> GraphQLResponse:
        """The response cache layer around execution (`run`), driven by cache hints: a hit
        answers without calling any subgraph; every response gets its `cache-control`."""
        query = admitted.query
        document, op = admitted.document, admitted.op
        if not admitted.checked or document is None or not isinstance(op, OperationDefinitionNode):
            return await run()
        headers = admitted.headers
        policy = NO_STORE
        if self.config.response_cache and query is not None:
            key = ("cache policy", admitted.name)
            cached_policy = admitted.analyses.get(key)
            if cached_policy is None:
                cached_policy = self._models_for(router.supergraph)[1].policy(document, op)
                admitted.analyses[key] = cached_policy
            policy = cached_policy
        cache_key: bytes | None = None
        variables = params.get("variables")
        operation_name = params.get("operationName")
        if policy.cacheable and not expose_plan:
            cache_key = orjson.dumps(
                [
                    query,
                    operation_name,
                    variables if isinstance(variables, Mapping) else {},
                    admitted.client if policy.scope == "PRIVATE" else None,
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
        if not self.config.cache_control:
            return result
        if result.request_error or result.body.get("errors"):
            result.headers["cache-control"] = "no-store"
        else:
            result.headers["cache-control"] = policy.header()
            if cache_key is not None:
                self.response_cache.put(
                    cache_key, orjson.loads(orjson.dumps(result.body)), policy.max_age
                )
        return result

    def _precheck(self, document: DocumentNode, analyses: dict[Any, Any]) -> dict[str, Any] | None:
        """Refuse a document over a limit from its syntax alone, before it is validated (an
        explosive document costs more to validate than to measure): every operation of it
        is measured, fragments summarised once each; the measures stay with the document."""
        if not self._measures_limits:
            return None
        for op in document.definitions:
            if isinstance(op, OperationDefinitionNode):
                error = check_measures(self._measure(analyses, document, op), self.config.limits)
                if error is not None:
                    return error.to_dict()
        return None

    @property
    def _measures_limits(self) -> bool:
        limits = self.config.limits
        return any(
            v is not None
            for v in (
                limits.max_depth,
                limits.max_aliases,
                limits.max_root_fields,
                limits.max_directives_per_field,
                limits.max_expanded_fields,
            )
        )

    def _measure(
        self, analyses: dict[Any, Any], document: DocumentNode, op: OperationDefinitionNode
    ) -> Measures:
        key = ("measures", op.name.value if op.name else None)
        m = analyses.get(key)
        if m is None:
            m = analyses[key] = measure(document, op)
        result: Measures = m
        return result

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
