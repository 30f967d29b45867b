"""Rate limiting per client, on the shared sliding-window limiter.

The client is identified by its API key header, else by a digest of its Authorization
header (the user), else by its address (the peer, or the client a trusted proxy names).
Windows live in Redis when configured (shared by every gateway instance), in process
otherwise: that is `media_gateway.platform.ratelimit`'s job.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from .config import EdgeConfig


def client_key(headers: Mapping[str, str], address: str | None, config: EdgeConfig) -> str:
    api_key = headers.get(config.client_id_header)
    if api_key:
        return "key:" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
    auth = headers.get("authorization")
    if auth:
        return "user:" + hashlib.sha256(auth.encode()).hexdigest()[:32]
    # forwarded headers count only when the peer is a trusted proxy
    return "addr:" + (config.trusted_proxies.client_address(address, headers) or "unknown")


def make_limiter(redis_url: str | None, prefix: str) -> Any:
    from media_gateway.platform.ratelimit import SlidingWindowLimiter

    return SlidingWindowLimiter(redis_url, prefix)


def rate_limit_headers(limit: int, decision: Any, window_seconds: int) -> dict[str, str]:
    reset = getattr(decision, "reset_after", None)
    reset_s = math.ceil(reset) if isinstance(reset, int | float) else window_seconds
    headers = {
        "ratelimit-limit": str(limit),
        "ratelimit-remaining": str(max(0, int(getattr(decision, "remaining", 0)))),
        "ratelimit-reset": str(max(0, reset_s)),
        "ratelimit-policy": f"{limit};w={window_seconds}",
    }
    if not decision.allowed:
        headers["retry-after"] = str(max(1, math.ceil(float(decision.retry_after or 0))))
    return headers
