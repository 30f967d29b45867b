"""Optional services (Redis today) checked at start and on ``/ready``.

An optional service that does not answer never stops the product: what depends on it falls
back (rate limits counted per process, short-lived codes in the database, revocations read
from the database) and the log says plainly which service is missing and what it costs.
Nothing here shows a client an internal address.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from media_gateway.platform.settings import Settings

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2.0
REDIS_FALLBACK = (
    "rate limits are counted in each process, short-lived codes kept in the database, "
    "revoked sessions read from the database, and subscription events stay within one "
    "process until it answers"
)


async def redis_answers(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    import redis.asyncio as redis

    client: Any = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout))
    except Exception:  # any failure to answer is "missing"
        return False
    finally:
        await client.aclose()


async def missing_services(settings: Settings) -> dict[str, str]:
    """The configured optional services that do not answer, each with what it costs."""
    missing: dict[str, str] = {}
    if settings.redis_url and not await redis_answers(settings.redis_url):
        missing["redis"] = "unreachable (REDIS_URL): " + REDIS_FALLBACK
    return missing


async def report_missing_services(settings: Settings, component: str) -> dict[str, str]:
    """Log a warning for each configured optional service that does not answer."""
    missing = await missing_services(settings)
    for service, effect in missing.items():
        log.warning(
            f"{service.capitalize()} is {effect}",
            extra={"service": service, "component": component},
        )
    return missing
