"""Assembles the platform: the registry of subgraphs and their SDL for composition.

``SUBGRAPHS`` maps each subgraph's name to its factory; a factory takes the shared
``Runtime`` (settings, database, event bus) so that subgraphs running in one process share
one engine and one bus, or none to run alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from media_gateway.assembly.base import Runtime, Subgraph
from media_gateway.platform.subgraph_urls import set_default_urls
from media_gateway.storage.metadata import register_models

SubgraphFactory = Callable[[Runtime | None], Subgraph]

# name -> default port (the order is the order of the composed supergraph's subgraphs)
DEFAULT_PORTS: dict[str, int] = {
    "identity": 4001,
    "catalog": 4002,
    "recommendations": 4003,
    "playback": 4004,
    "sync": 4005,
}


def _factory(name: str) -> SubgraphFactory:
    def create(runtime: Runtime | None = None) -> Subgraph:
        import importlib

        module = importlib.import_module(f"media_gateway.assembly.{name}")
        subgraph: Subgraph = module.create(runtime)
        return subgraph

    create.__name__ = f"create_{name}"
    return create


SUBGRAPHS: dict[str, SubgraphFactory] = {name: _factory(name) for name in DEFAULT_PORTS}


def default_url(name: str, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{DEFAULT_PORTS[name]}/graphql"


# a subgraph running alone finds the others on their default ports unless told otherwise
set_default_urls({name: default_url(name) for name in DEFAULT_PORTS})
# the tables the migrations describe: each subgraph's, the real-time log's (written in
# sync's transactions) and the audit log's (written in any subgraph's)
register_models(
    *(f"media_gateway.subgraphs.{name}.models" for name in DEFAULT_PORTS),
    "media_gateway.realtime.models",
    "media_gateway.storage.audit",
    "media_gateway.subgraphs.catalog.search.records",
)


def subgraph_sdls() -> list[tuple[str, str, str]]:
    """(name, url, federation SDL) of every subgraph, as ``_service { sdl }`` answers it."""
    from media_gateway.platform.settings import Settings

    # printing SDL needs no storage: an in-memory database that is never connected to
    runtime = Runtime.create(
        Settings.from_env({"DATABASE_URL": "sqlite+aiosqlite:///:memory:", "JWT_KEY_DIR": "-"})
    )
    result = []
    for name, factory in SUBGRAPHS.items():
        subgraph = factory(runtime)
        result.append((name, default_url(name), service_sdl(subgraph)))
    return result


def service_sdl(subgraph: Subgraph) -> str:
    response = subgraph.schema.execute_sync("{ _service { sdl } }")
    if response.errors or not response.data:
        raise RuntimeError(f"{subgraph.name}: cannot print its SDL: {response.errors}")
    return str(response.data["_service"]["sdl"])


@dataclass
class Platform:
    """All five subgraphs in one process on one runtime (the embedded mode)."""

    runtime: Runtime
    subgraphs: Mapping[str, Subgraph]

    @classmethod
    def create(cls, runtime: Runtime | None = None) -> Platform:
        runtime = runtime or Runtime.create()
        return cls(runtime, {name: factory(runtime) for name, factory in SUBGRAPHS.items()})

    async def startup(self) -> None:
        await self.runtime.database.migrate()
        for subgraph in self.subgraphs.values():
            await subgraph.startup()

    async def shutdown(self) -> None:
        for subgraph in reversed(list(self.subgraphs.values())):
            await subgraph.shutdown()
        await self.runtime.close()

    def __getitem__(self, name: str) -> Subgraph:
        return self.subgraphs[name]
