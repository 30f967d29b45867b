"""The gateway's edge: what a production router does around planning and execution.

Request stages, in order: CSRF / CORS → body limits → APQ / persisted-document resolution →
parse and validate (cached) → operation limits and static cost → rate limit → plan →
execute → response cache. Subgraph fetches go through resilience wrappers (timeouts,
retries for idempotent fetches, circuit breakers, de-duplication, header rules) and every
stage reports to telemetry (Prometheus metrics, OpenTelemetry traces, structured logs).
Nothing here knows about a particular supergraph.
"""

from .config import EdgeConfig, LimitsConfig

__all__ = ["EdgeConfig", "LimitsConfig"]
