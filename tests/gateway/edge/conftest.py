"""Fixtures: the shop supergraph in-process, and gateways with edge stages in front of it."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from media_gateway.gateway.clients import InProcessClient, SubgraphClient
from media_gateway.gateway.edge import EdgeConfig
from media_gateway.gateway.server import GatewayConfig, create_gateway_app

from . import shop

_JOIN_DIRECTIVE_DEF = re.compile(r"^directive @join__directive\(.*\n", re.MULTILINE)
SUPERGRAPH = _JOIN_DIRECTIVE_DEF.sub("", shop.supergraph())

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


async def _headers_context(headers: Mapping[str, str]) -> dict[str, str]:
    return dict(headers)


def shop_clients() -> dict[str, SubgraphClient]:
    return {
        "products": InProcessClient(
            shop.RecordingSchema("products", shop.PRODUCTS), _headers_context
        ),
        "reviews": InProcessClient(shop.RecordingSchema("reviews", shop.REVIEWS), _headers_context),
    }


class EdgeGateway:
    def __init__(self, app: Any, exporter: InMemorySpanExporter) -> None:
        self.app = app
        self.exporter = exporter
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.7", 4000)),
            base_url="http://gateway.test",
        )

    @property
    def edge(self) -> Any:
        return self.app.state.gateway.edge

    async def post(
        self, body: Any, headers: Mapping[str, str] | None = None, path: str = "/graphql"
    ) -> httpx.Response:
        return await self.http.post(path, json=body, headers={**JSON_HEADERS, **(headers or {})})

    async def query(self, query: str, **extra: Any) -> httpx.Response:
        headers = extra.pop("headers", None)
        return await self.post({"query": query, **extra}, headers)

    async def aclose(self) -> None:
        await self.http.aclose()


GatewayFactory = Callable[..., Awaitable[EdgeGateway]]


@pytest.fixture(autouse=True)
def _reset_shop() -> None:
    shop.reset()


@pytest.fixture
async def make_gateway() -> AsyncIterator[GatewayFactory]:
    stack = contextlib.AsyncExitStack()

    async def make(
        config: EdgeConfig | None = None,
        clients: Mapping[str, SubgraphClient] | None = None,
    ) -> EdgeGateway:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        app = create_gateway_app(
            GatewayConfig(
                supergraph_sdl=SUPERGRAPH,
                clients=clients if clients is not None else shop_clients(),
                edge=config if config is not None else EdgeConfig(),
                tracer_provider=provider,
            )
        )
        await stack.enter_async_context(app.router.lifespan_context(app))
        gateway = EdgeGateway(app, exporter)
        stack.push_async_callback(gateway.aclose)
        return gateway

    async with stack:
        yield make


@pytest.fixture
async def gateway(make_gateway: GatewayFactory) -> EdgeGateway:
    return await make_gateway()


def redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL")
