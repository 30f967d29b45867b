"""One `EdgeConfig` for a deployment, read from the environment (or built in code).

Every variable is optional; absent means the default below. Lists are comma separated;
maps are `key=value` pairs separated by commas (`GATEWAY_SUBGRAPH_TIMEOUTS=catalog=2,sync=5`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from media_gateway.platform.forwarding import TrustedProxies

PersistedMode = Literal["off", "log-unknown", "safelist"]
PERSISTED_MODES: tuple[PersistedMode, ...] = ("off", "log-unknown", "safelist")


@dataclass(frozen=True)
class LimitsConfig:
    """Operation limits; `None` turns a limit off."""

    max_body_bytes: int | None = 1024 * 1024
    max_document_bytes: int | None = 100_000
    max_tokens: int | None = 10_000
    max_depth: int | None = 25
    max_aliases: int | None = 200
    max_root_fields: int | None = 50
    max_directives_per_field: int | None = 10
    # fields once every fragment is expanded (what planning and shaping work through)
    max_expanded_fields: int | None = 5_000
    max_cost: int | None = 50_000
    # operations in one batched HTTP request; limits and cost count over the whole batch
    max_batch_operations: int | None = 10
    # total static cost a client may spend per minute (None: no budget)
    cost_budget_per_minute: int | None = None
    # assumed size of a list field with neither @listSize nor a slicing argument
    default_list_size: int = 10
    # seconds a request may wait for a new document to be validated or planned (that work
    # runs beside the event loop); over it: OPERATION_TOO_COMPLEX
    cpu_budget_seconds: float | None = 2.0

    @classmethod
    def off(cls) -> LimitsConfig:
        """No operation limit (the CPU budget for new documents stays: it guards the event
        loop, not the operation)."""
        return cls(
            max_body_bytes=None,
            max_document_bytes=None,
            max_tokens=None,
            max_depth=None,
            max_aliases=None,
            max_root_fields=None,
            max_directives_per_field=None,
            max_expanded_fields=None,
            max_cost=None,
            max_batch_operations=None,
        )


@dataclass(frozen=True)
class CacheHint:
    max_age: int
    scope: Literal["PUBLIC", "PRIVATE"] = "PUBLIC"


@dataclass(frozen=True)
class EdgeConfig:
    """Every edge stage is always in the request path; this says what each one does
    (`EdgeConfig.off()`: nothing, the router as a plain GraphQL server)."""

    # whether the request's `extensions` (APQ) and persisted document ids are read at all
    request_extensions: bool = True
    # automatic persisted queries
    apq: bool = True
    apq_ttl_seconds: int = 24 * 3600
    apq_cache_size: int = 10_000
    # shared state between gateway instances (APQ store, rate limits); None: in process
    redis_url: str | None = None
    redis_prefix: str = "media-gateway:edge:"
    # trusted documents
    persisted_mode: PersistedMode = "off"
    persisted_manifests: tuple[Path, ...] = ()
    safelist_allows_introspection: bool = False
    # limits, introspection, suggestions
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    introspection: bool = True
    field_suggestions: bool = True
    # CSRF and CORS
    csrf: bool = True
    csrf_required_headers: tuple[str, ...] = ("apollo-require-preflight", "x-apollo-operation-name")
    cors_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = False
    # rate limiting: requests per client per window (None: off)
    rate_limit: int | None = None
    rate_limit_window_seconds: int = 60
    client_id_header: str = "x-api-key"
    # proxies whose forwarded header names the client (TRUSTED_PROXIES, as in every service)
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    # subgraph resilience (off: the subgraph clients as they are, none of the below)
    resilience: bool = True
    # one deadline per client request: every subgraph fetch and retry fits in it
    request_timeout: float | None = 30.0
    subgraph_timeout: float | None = None
    subgraph_timeouts: Mapping[str, float] = field(default_factory=dict)
    retries: int = 2
    retry_backoff_seconds: float = 0.05
    retry_backoff_max_seconds: float = 1.0
    breaker_failure_threshold: int = 5
    breaker_reset_seconds: float = 30.0
    dedup: bool = True
    # header propagation: subgraph name (or "*") -> client headers it receives
    propagate_headers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # response cache driven by cache hints ("Type" or "Type.field" -> hint)
    response_cache: bool = True
    response_cache_size: int = 1000
    cache_hints: Mapping[str, CacheHint] = field(default_factory=dict)
    # every response says whether it may be cached (`cache-control`)
    cache_control: bool = True
    # telemetry
    metrics: bool = True
    tracing: bool = True
    # share of traces recorded by the gateway's own tracer provider (parent-based: a caller's
    # sampled `traceparent` is always followed); GATEWAY_TRACE_SAMPLE_RATIO
    trace_sample_ratio: float = 0.01
    plans_kept: int = 200
    # one log line (and the access log's notes) per GraphQL request
    request_log: bool = True

    @classmethod
    def off(cls) -> EdgeConfig:
        """Every stage configured off: no limits, persisted documents, CSRF, CORS, rate
        limits, response cache or cache headers, no subgraph resilience, no telemetry and
        no request deadline; proxies trusted as `TRUSTED_PROXIES` says."""
        return cls(
            request_extensions=False,
            apq=False,
            limits=LimitsConfig.off(),
            csrf=False,
            trusted_proxies=TrustedProxies.from_env(),
            request_timeout=None,
            resilience=False,
            dedup=False,
            response_cache=False,
            cache_control=False,
            metrics=False,
            tracing=False,
            request_log=False,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EdgeConfig:
        """The edge from the environment. Under `MEDIA_GATEWAY_ENV=production` the defaults
        change (each still overridable): no introspection, no field suggestions, trusted
        documents in safelist mode when manifests are configured, tighter limits."""
        e = os.environ if env is None else env
        production = profile(e) == "production"
        d = cls()
        lim = PRODUCTION_LIMITS if production else LimitsConfig()
        limits = LimitsConfig(
            max_body_bytes=_opt_int(e, "GATEWAY_MAX_BODY_BYTES", lim.max_body_bytes),
            max_document_bytes=_opt_int(e, "GATEWAY_MAX_DOCUMENT_BYTES", lim.max_document_bytes),
            max_tokens=_opt_int(e, "GATEWAY_MAX_TOKENS", lim.max_tokens),
            max_depth=_opt_int(e, "GATEWAY_MAX_DEPTH", lim.max_depth),
            max_aliases=_opt_int(e, "GATEWAY_MAX_ALIASES", lim.max_aliases),
            max_root_fields=_opt_int(e, "GATEWAY_MAX_ROOT_FIELDS", lim.max_root_fields),
            max_directives_per_field=_opt_int(
                e, "GATEWAY_MAX_DIRECTIVES_PER_FIELD", lim.max_directives_per_field
            ),
            max_expanded_fields=_opt_int(e, "GATEWAY_MAX_EXPANDED_FIELDS", lim.max_expanded_fields),
            max_cost=_opt_int(e, "GATEWAY_MAX_COST", lim.max_cost),
            max_batch_operations=_opt_int(
                e, "GATEWAY_MAX_BATCH_OPERATIONS", lim.max_batch_operations
            ),
            cost_budget_per_minute=_opt_int(e, "GATEWAY_COST_BUDGET_PER_MINUTE", None),
            default_list_size=_opt_int(e, "GATEWAY_DEFAULT_LIST_SIZE", 10) or 10,
            cpu_budget_seconds=_opt_float(e, "GATEWAY_CPU_BUDGET_SECONDS")
            or lim.cpu_budget_seconds,
        )
        manifests = tuple(Path(p) for p in _list(e, "GATEWAY_PERSISTED_MANIFESTS"))
        default_mode = "safelist" if production and manifests else d.persisted_mode
        mode = (_text(e, "GATEWAY_PERSISTED_MODE") or default_mode).lower()
        if mode not in PERSISTED_MODES:
            raise ValueError(
                f"GATEWAY_PERSISTED_MODE must be one of {', '.join(PERSISTED_MODES)}, not {mode!r}"
            )
        hints: dict[str, CacheHint] = {}
        for key, value in _map(e, "GATEWAY_CACHE_HINTS").items():
            age, _, scope = value.partition(":")
            hints[key] = CacheHint(int(age), "PRIVATE" if scope.upper() == "PRIVATE" else "PUBLIC")
        return cls(
            apq=_bool(e, "GATEWAY_APQ", d.apq),
            apq_ttl_seconds=_opt_int(e, "GATEWAY_APQ_TTL_SECONDS", d.apq_ttl_seconds) or 0,
            redis_url=_text(e, "REDIS_URL"),
            persisted_mode=mode,
            persisted_manifests=manifests,
            safelist_allows_introspection=_bool(
                e, "GATEWAY_SAFELIST_INTROSPECTION", d.safelist_allows_introspection
            ),
            limits=limits,
            introspection=_bool(e, "GATEWAY_INTROSPECTION", not production),
            field_suggestions=_bool(e, "GATEWAY_FIELD_SUGGESTIONS", not production),
            csrf=_bool(e, "GATEWAY_CSRF", d.csrf),
            cors_origins=tuple(_list(e, "GATEWAY_CORS_ORIGINS")),
            cors_allow_credentials=_bool(e, "GATEWAY_CORS_ALLOW_CREDENTIALS", False),
            rate_limit=_opt_int(e, "GATEWAY_RATE_LIMIT", None),
            rate_limit_window_seconds=_opt_int(e, "GATEWAY_RATE_LIMIT_WINDOW_SECONDS", 60) or 60,
            client_id_header=(_text(e, "GATEWAY_CLIENT_ID_HEADER") or d.client_id_header).lower(),
            trusted_proxies=TrustedProxies.from_env(e),
            request_timeout=_opt_float(e, "GATEWAY_REQUEST_TIMEOUT") or d.request_timeout,
            subgraph_timeout=_opt_float(e, "GATEWAY_SUBGRAPH_TIMEOUT"),
            subgraph_timeouts={
                k: float(v) for k, v in _map(e, "GATEWAY_SUBGRAPH_TIMEOUTS").items()
            },
            retries=_opt_int(e, "GATEWAY_SUBGRAPH_RETRIES", d.retries) or 0,
            breaker_failure_threshold=_opt_int(
                e, "GATEWAY_BREAKER_FAILURES", d.breaker_failure_threshold
            )
            or d.breaker_failure_threshold,
            breaker_reset_seconds=_opt_float(e, "GATEWAY_BREAKER_RESET_SECONDS")
            or d.breaker_reset_seconds,
            dedup=_bool(e, "GATEWAY_DEDUP", d.dedup),
            propagate_headers={
                k: tuple(h.strip().lower() for h in v.split("|") if h.strip())
                for k, v in _map(e, "GATEWAY_PROPAGATE_HEADERS").items()
            },
            response_cache=_bool(e, "GATEWAY_RESPONSE_CACHE", d.response_cache),
            cache_hints=hints,
            metrics=_bool(e, "GATEWAY_METRICS", d.metrics),
            tracing=_bool(e, "GATEWAY_TRACING", d.tracing),
            trace_sample_ratio=_ratio(e, "GATEWAY_TRACE_SAMPLE_RATIO", d.trace_sample_ratio),
        )


# limits of the production profile: room for every screen of a client app, none for abuse
PRODUCTION_LIMITS = LimitsConfig(
    max_depth=15,
    max_aliases=50,
    max_root_fields=20,
    max_expanded_fields=2_000,
    max_batch_operations=5,
)

Profile = Literal["development", "production"]


def profile(env: Mapping[str, str] | None = None) -> Profile:
    """The deployment profile, `MEDIA_GATEWAY_ENV`: `production` (or `prod`), else
    `development` (the default: introspection, suggestions and GraphiQL on)."""
    value = (_text(os.environ if env is None else env, "MEDIA_GATEWAY_ENV") or "").lower()
    return "production" if value in ("production", "prod") else "development"


def graphiql_enabled(env: Mapping[str, str] | None = None) -> bool:
    """GraphiQL is served in development, and in production only when `GATEWAY_GRAPHIQL`
    turns it on."""
    e = os.environ if env is None else env
    return _bool(e, "GATEWAY_GRAPHIQL", profile(e) != "production")


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _text(env, name)
    return default if value is None else value.lower() in {"1", "true", "yes", "on"}


def _opt_int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    value = _text(env, name)
    if value is None:
        return default
    if value.lower() in {"off", "none", "0"}:
        return None
    return int(value)


def _ratio(env: Mapping[str, str], name: str, default: float) -> float:
    value = _opt_float(env, name)
    if value is None:
        return default
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, not {value}")
    return value


def _opt_float(env: Mapping[str, str], name: str) -> float | None:
    value = _text(env, name)
    return None if value is None else float(value)


def _list(env: Mapping[str, str], name: str) -> list[str]:
    value = _text(env, name)
    return [] if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _map(env: Mapping[str, str], name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in _list(env, name):
        key, sep, value = item.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out
