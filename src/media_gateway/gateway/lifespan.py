"""The gateway app's lifespan: load the supergraph and watch its file, freeze the start-up
heap; on the way out close the streams, the subgraph clients and the edge's stores."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette

from media_gateway.platform.heap import freeze_startup_heap

from .state import GatewayState
from .streaming import StreamingEndpoints


def lifespan(
    state: GatewayState, streaming: StreamingEndpoints
) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        await state.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await streaming.close()
            await state.stop()

    return run
