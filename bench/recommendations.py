"""Latency of ``User.recommendations(first: 20)`` for MovieLens members, and training time.

Imports MovieLens-100K into a temporary SQLite database, trains the ranker, then measures
two paths, both in-process, and prints p50/p95/p99 of each:

- **subgraph**: the recommendations subgraph answering ``_entities`` with a User
  representation, exactly the request the gateway sends it for ``me { recommendations }``;
- **gateway**: ``{ me { recommendations(first: 20) { content { id title } reasonKind } } }``
  through the gateway (planner, identity for ``me``, recommendations, the catalog for the
  titles) over ASGI. Each signed-in viewer is an account registered through the gateway
  whose watch history is a MovieLens member's.

    python bench/recommendations.py [--movielens PATH] [--requests 500] [--viewers 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ENTITIES = (
    "query($r: [_Any!]!) { _entities(representations: $r) { ... on User {"
    " recommendations(first: 20) { content { id } reasonKind } } } }"
)
ME = "{ me { recommendations(first: 20) { content { id title } reasonKind } } }"
REGISTER = (
    "mutation($email: String!) { register(input: {email: $email,"
    ' password: "correct horse battery", displayName: "Bench Viewer"}) { id } }'
)
WARM_UP = 20


def report(name: str, timings: list[float], cpu_ms: float) -> None:
    q = statistics.quantiles(sorted(timings), n=100)
    print(
        f"User.recommendations(first: 20) {name}, {len(timings)} requests: "
        f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms "
        f"(process CPU {cpu_ms:.1f} ms per request)"
    )


async def measure(name: str, requests: int, ask: Callable[[int], Awaitable[float]]) -> None:
    """``ask(k)`` sends request ``k`` and returns its latency in milliseconds. Wall-clock
    percentiles suffer when other processes share the CPUs; the CPU time per request does
    not, so both are printed."""
    for k in range(WARM_UP):  # first parse, first model load
        await ask(k)
    cpu = time.process_time()
    timings = [await ask(k) for k in range(requests)]
    report(name, timings, (time.process_time() - cpu) * 1000 / requests)


async def main(path: Path, requests: int, viewers: int) -> None:
    import httpx

    from media_gateway.app import Platform
    from media_gateway.app.movielens import import_movielens
    from media_gateway.app.serve import build_gateway_app, load_supergraph
    from media_gateway.assembly.base import Runtime
    from media_gateway.auth.scopes import SESSION_SCOPES
    from media_gateway.auth.tokens import token_service
    from media_gateway.platform.settings import Settings
    from media_gateway.subgraphs.recommendations.models import InteractionRecord

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings.from_env(
            {
                "MEDIA_GATEWAY_DATA_DIR": folder,
                "LOG_LEVEL": "WARNING",
                "MEDIA_GATEWAY_SEED_DEMO": "0",
            }
        )
        platform = Platform.create(Runtime.create(settings))
        await platform.startup()
        try:
            await import_movielens(platform.runtime.database, path, progress=False)
            service = platform["recommendations"].service.training
            started = time.perf_counter()
            await service.train()
            size = (await service.model()).size
            print(f"training: {time.perf_counter() - started:.2f} s ({size} titles)")
            tokens = token_service(settings)

            # -- the subgraph, as the gateway calls it ------------------------------------
            subgraph = platform["recommendations"]
            members = [f"movielens-{k}" for k in range(1, 944)]
            member_tokens = [
                tokens.issue_access_token(u, scopes=SESSION_SCOPES)[0] for u in members
            ]

            async def entities(k: int) -> float:
                user, token = members[k % len(members)], member_tokens[k % len(members)]
                # a fresh request context (and dataloaders) per request, as the gateway makes
                context = await subgraph.context({"authorization": f"Bearer {token}"})
                t0 = time.perf_counter()
                result = await subgraph.schema.execute(
                    ENTITIES,
                    variable_values={"r": [{"__typename": "User", "id": user}]},
                    context_value=context,
                )
                elapsed = (time.perf_counter() - t0) * 1000
                assert result.errors is None, result.errors
                return elapsed

            await measure("via _entities on the subgraph", requests, entities)

            # -- the gateway, signed in ---------------------------------------------------
            app = build_gateway_app(platform, load_supergraph())
            transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:

                async def post(query: str, token: str | None = None, **variables: Any) -> Any:
                    headers = {"authorization": f"Bearer {token}"} if token else {}
                    response = await http.post(
                        "/graphql", json={"query": query, "variables": variables}, headers=headers
                    )
                    body = response.json()
                    assert response.status_code == 200 and "errors" not in body, body
                    return body["data"]

                signed_in: list[str] = []
                for k in range(viewers):
                    data = await post(REGISTER, email=f"bench-{k}@example.com")
                    user_id = data["register"]["id"]
                    source = members[k * (len(members) // viewers)]
                    await copy_history(platform, InteractionRecord, source, user_id)
                    token, _ = tokens.issue_access_token(user_id, scopes=SESSION_SCOPES)
                    signed_in.append(token)

                async def gateway(k: int) -> float:
                    t0 = time.perf_counter()
                    data = await post(ME, signed_in[k % len(signed_in)])
                    elapsed = (time.perf_counter() - t0) * 1000
                    assert len(data["me"]["recommendations"]) == 20, data
                    return elapsed

                await measure("via the gateway (me)", requests, gateway)
        finally:
            await platform.shutdown()


async def copy_history(platform: Any, record: Any, source: str, target: str) -> None:
    from sqlmodel import select

    database = platform.runtime.database
    async with database.session() as session:
        rows = (await session.exec(select(record).where(record.user_id == source))).all()
    async with database.transaction() as session:
        session.add_all(
            record(
                user_id=target,
                content_id=r.content_id,
                weight=r.weight,
                occurred_at=r.occurred_at,
                source="bench",
            )
            for r in rows
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--movielens", default=os.environ.get("MOVIELENS_PATH", "../shared/data/movielens-100k")
    )
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--viewers", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(Path(args.movielens), args.requests, args.viewers))
