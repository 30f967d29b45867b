"""Batched GraphQL over HTTP: a JSON array of operations in one request.

Queries run side by side; each operation that may write runs alone and in the order sent
(what it writes may be what the next operation reads). The batch's limits count its
operations together (`edge.pipeline.Batch`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from .edge.config import LimitsConfig
from .edge.pipeline import Batch
from .router import GraphQLResponse

_MUTATION = re.compile(r"\bmutation\b")

# runs one operation of the batch (its request params) through the request path
RunOne = Callable[[Any, Batch], Awaitable[GraphQLResponse]]


def may_write(params: Any) -> bool:
    """Whether an operation of a batch may be a mutation (when in doubt, it may: an operation
    sent by id, or a document naming a mutation anywhere, runs alone and in order)."""
    query = params.get("query") if isinstance(params, dict) else None
    return not isinstance(query, str) or _MUTATION.search(query) is not None


def batch_refusal(payload: list[Any], limits: LimitsConfig) -> tuple[str, dict[str, Any]] | None:
    """Why a batch cannot run at all: ("empty" | "limit", body), or None."""
    if not payload:
        return "empty", {}
    limit = limits.max_batch_operations
    if limit is not None and len(payload) > limit:
        return "limit", {
            "errors": [
                {
                    "message": f"A batch may hold at most {limit} operations; "
                    f"this one holds {len(payload)}.",
                    "extensions": {
                        "code": "BATCH_LIMIT_EXCEEDED",
                        "limit": limit,
                        "actual": len(payload),
                    },
                }
            ]
        }
    return None


async def run_batch(payload: list[Any], run_one: RunOne) -> list[GraphQLResponse]:
    """Run a batch's operations: queries side by side, each mutation alone and in the
    order sent."""
    batch = Batch(len(payload))
    results: list[GraphQLResponse] = []
    pending: list[Any] = []

    async def flush() -> None:
        results.extend(await asyncio.gather(*(run_one(p, batch) for p in pending)))
        pending.clear()

    for params in payload:
        if may_write(params):
            await flush()
            results.append(await run_one(params, batch))
        else:
            pending.append(params)
    await flush()
    return results
