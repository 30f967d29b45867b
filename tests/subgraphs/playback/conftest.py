"""Fixtures: the playback subgraph alone, over SQLite and (when available) PostgreSQL.

Only playback is built (``media_gateway.assembly.playback.create``). What it asks of the
other subgraphs before writing (whether a title exists, whether a device is the caller's)
is answered by stand-ins registered as the local catalog and sync; viewers are access tokens
signed with the runtime's keys, as identity would issue.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from media_gateway.assembly import playback as playback_assembly
from media_gateway.assembly.base import Runtime, Subgraph
from media_gateway.platform.demo import DEMO_HISTORY, DEMO_USER_ID
from media_gateway.platform.settings import Settings
from media_gateway.schema import references

try:  # the test folders are packages; their parent may or may not be one
    from tests.subgraphs.conftest import GraphQLClient, KnownTitles, access_token, settings
except ImportError:  # pragma: no cover
    from subgraphs.conftest import (  # type: ignore[no-redef,unused-ignore]
        GraphQLClient,
        KnownTitles,
        access_token,
        settings,
    )

__all__ = ["GraphQLClient", "settings"]

# the titles the stand-in catalog knows (id -> content rating)
TITLES: dict[str, str | None] = {
    **{content_id: "PG-13" for content_id, *_ in DEMO_HISTORY},
    **dict.fromkeys(
        (
            "movie:heat-1995",
            "movie:up-2009",
            "movie:coco-2017",
            "movie:jaws-1975",
            "movie:rocky-1976",
            "movie:big-1988",
            "movie:seven-samurai-1954",
        ),
        "PG",
    ),
}


@dataclass(frozen=True)
class Device:
    id: str
    user_id: str


class KnownDevices:
    """Sync's devices as playback sees them in the embedded mode: ``devices``."""

    def __init__(self) -> None:
        self.owned: dict[str, list[Device]] = defaultdict(list)

    def register(self, user_id: str) -> str:
        device = Device(uuid.uuid4().hex, user_id)
        self.owned[user_id].append(device)
        return device.id

    async def devices(self, user_ids: Sequence[str]) -> list[Device]:
        return [d for user_id in user_ids for d in self.owned.get(user_id, [])]


@pytest.fixture
def devices() -> KnownDevices:
    return KnownDevices()


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    made = Runtime.create(settings)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def playback_subgraph(runtime: Runtime, devices: KnownDevices) -> AsyncIterator[Subgraph]:
    subgraph = playback_assembly.create(runtime)
    references.register_local(runtime.database, "catalog", KnownTitles(dict(TITLES)))
    references.register_local(runtime.database, "sync", devices)
    await runtime.database.migrate()
    await subgraph.startup()
    try:
        yield subgraph
    finally:
        await subgraph.shutdown()


@pytest.fixture
async def clients(playback_subgraph: Subgraph) -> AsyncIterator[dict[str, GraphQLClient]]:
    client = GraphQLClient(playback_subgraph)
    yield {"playback": client}
    await client.aclose()


def subject_of(token: str) -> str:
    """The account an access token names (its ``sub`` claim, read without verifying)."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


@pytest.fixture
def demo_token(settings: Settings) -> str:
    return access_token(settings, DEMO_USER_ID)


@pytest.fixture
def new_user(settings: Settings) -> dict[str, Any]:
    """A member with no history yet: (id, token)."""
    user_id = uuid.uuid4().hex
    return {"id": user_id, "token": access_token(settings, user_id)}
