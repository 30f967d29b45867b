"""References to other subgraphs' entities, checked where they are written.

A watchlist entry, a playback session or a recommendation outcome names a title owned by the
catalog; a playback session names a device owned by sync. Before anything is written the
title must exist (and be allowed for the active profile's rating) and the device must be one
of the caller's: an unknown title is NOT_FOUND, a title above the profile's rating FORBIDDEN,
a device that is not the caller's NOT_FOUND (one answer whether it does not exist or is
another member's, so that nobody learns which ids exist).

In the embedded mode the owning service runs in this process and is asked directly; run
alone, a subgraph asks the catalog service over HTTP (``SUBGRAPH_URL_CATALOG``, by default
its local port; see ``media_gateway.platform.subgraph_urls``): the titles of all the writes
in flight at once go in one request (a DataLoader), and answers are remembered briefly.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import httpx
from aiodataloader import DataLoader

from media_gateway.auth.tokens import Claims, rating_allowed
from media_gateway.platform.subgraph_urls import subgraph_url
from media_gateway.schema.common import ClientError, forbidden, not_found

KNOWN_SECONDS = 60.0  # how long a title's existence and rating are remembered
UNKNOWN_SECONDS = 5.0  # an unknown id is asked again soon (a title may just have arrived)
MAX_CACHED = 50_000
_UNKNOWN = object()  # the catalog has no title by this id
TITLES_QUERY = "query($ids: [ID!]!) { contents(ids: $ids) { id contentRating } }"


class TitleSource(Protocol):
    async def contents_by_ids(self, ids: Sequence[str]) -> Sequence[Any]: ...


class DeviceSource(Protocol):
    async def devices(self, user_ids: Sequence[str]) -> Sequence[Any]: ...


_local: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def register_local(database: Any, name: str, service: Any) -> None:
    """A subgraph's service running in this process on ``database`` (the embedded mode)."""
    _local.setdefault(database, {})[name] = service


def _local_service(database: Any, name: str) -> Any:
    return _local.get(database, {}).get(name)


def _subgraph_url(name: str) -> str:
    url = subgraph_url(name)
    if url is None:  # answered as the subgraph being unreachable
        raise httpx.UnsupportedProtocol(f"no URL for the {name} subgraph")
    return url


class TitleReferences:
    """Which of some title ids exist, and their content ratings."""

    def __init__(self, database: Any) -> None:
        self.database = database
        self._cache: dict[str, tuple[float, bool, str | None]] = {}
        self._batcher: DataLoader[str, object] | None = None
        self._client: httpx.AsyncClient | None = None

    async def ratings(self, ids: Iterable[str]) -> dict[str, str | None]:
        """The content rating of each id that names an existing title (unknown ids absent)."""
        wanted = list(dict.fromkeys(ids))
        local: TitleSource | None = _local_service(self.database, "catalog")
        if local is not None:
            records = await local.contents_by_ids(wanted)
            return {r.id: r.content_rating for r in records}
        now = time.monotonic()
        found: dict[str, str | None] = {}
        missing = []
        for content_id in wanted:
            hit = self._cache.get(content_id)
            if hit is not None and hit[0] > now:
                if hit[1]:
                    found[content_id] = hit[2]
            else:
                missing.append(content_id)
        if missing:
            answers = await self._loader().load_many(missing)
            if len(self._cache) > MAX_CACHED:
                self._cache.clear()
            for content_id, answer in zip(missing, answers, strict=True):
                known = answer is not _UNKNOWN
                rating = answer if isinstance(answer, str) else None
                ttl = KNOWN_SECONDS if known else UNKNOWN_SECONDS
                self._cache[content_id] = (now + ttl, known, rating)
                if known:
                    found[content_id] = rating
        return found

    def _loader(self) -> DataLoader[str, object]:
        """One loader (and one connection pool) per event loop: the titles that concurrent
        writes ask about in the same tick go to the catalog together, 100 at most."""
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher.loop is not loop:
            self._batcher = DataLoader(self._fetch, max_batch_size=100, cache=False, loop=loop)
            self._client = httpx.AsyncClient(timeout=5.0)
        return self._batcher

    async def _fetch(self, ids: list[str]) -> list[object]:
        """Each id's content rating (None when it has none), or `_UNKNOWN`."""
        try:
            response = await self._http().post(
                _subgraph_url("catalog"), json={"query": TITLES_QUERY, "variables": {"ids": ids}}
            )
            response.raise_for_status()
            rows = response.json()["data"]["contents"]
            ratings = {r["id"]: r.get("contentRating") for r in rows if r}
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            raise ClientError(
                "The catalog cannot be reached to check this title; try again.",
                "SERVICE_UNAVAILABLE",
            ) from None
        return [ratings.get(i, _UNKNOWN) for i in ids]

    def _http(self) -> httpx.AsyncClient:
        assert self._client is not None  # made with the loader
        return self._client

    async def require(self, ids: Sequence[str], viewer: Claims | None) -> None:
        """NOT_FOUND for a title that does not exist, FORBIDDEN for one above the viewer's
        rating; nothing is written before this returns."""
        if not ids:
            return
        known = await self.ratings(ids)
        for content_id in ids:
            if content_id not in known:
                raise not_found(f"No title {content_id!r}.")
            limit = viewer.max_content_rating if viewer is not None else None
            if limit is None and viewer is not None and viewer.kids:
                limit = "G"
            if limit is not None and not rating_allowed(limit, known[content_id]):
                raise forbidden("This title is above the profile's content rating.")

    async def visible(self, ids: Sequence[str], viewer: Claims | None) -> set[str]:
        """The ids the viewer's profile may see (all of them without a rating limit)."""
        limit = viewer.max_content_rating if viewer is not None else None
        if limit is None and viewer is not None and viewer.kids:
            limit = "G"
        if limit is None:
            return set(ids)
        known = await self.ratings(ids)
        return {i for i in ids if i in known and rating_allowed(limit, known[i])}

    async def shown(self, content_id: str | None, viewer: Claims | None) -> bool:
        """Whether something naming ``content_id`` (none: nothing to hide) may reach the
        viewer's profile: a real-time event above a restricted profile's rating never does."""
        return not content_id or content_id in await self.visible([content_id], viewer)


class DeviceReferences:
    """Whether a device id is one of the caller's devices."""

    def __init__(self, database: Any) -> None:
        self.database = database

    async def require(self, user_id: str, device_id: str, headers: Mapping[str, str]) -> None:
        local: DeviceSource | None = _local_service(self.database, "sync")
        if local is not None:
            owned = {d.id for d in await local.devices([user_id])}
        else:
            owned = await self._fetch(user_id, headers)
        if device_id not in owned:
            raise not_found("No such device.")

    async def _fetch(self, user_id: str, headers: Mapping[str, str]) -> set[str]:
        forwarded = {
            k: v for k, v in headers.items() if k.lower() in ("authorization", "x-api-key")
        }
        query = (
            "query($r: [_Any!]!) { _entities(representations: $r) "
            "{ ... on User { devices { id } } } }"
        )
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.post(
                    _subgraph_url("sync"),
                    json={
                        "query": query,
                        "variables": {"r": [{"__typename": "User", "id": user_id}]},
                    },
                    headers=forwarded,
                )
                response.raise_for_status()
                entity = response.json()["data"]["_entities"][0] or {}
        except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError):
            raise ClientError(
                "Your devices cannot be checked right now; try again.", "SERVICE_UNAVAILABLE"
            ) from None
        return {d["id"] for d in entity.get("devices") or []}


_titles: weakref.WeakKeyDictionary[Any, TitleReferences] = weakref.WeakKeyDictionary()
_devices: weakref.WeakKeyDictionary[Any, DeviceReferences] = weakref.WeakKeyDictionary()


def titles(database: Any) -> TitleReferences:
    """The title references of the subgraphs on ``database`` (one cache per process)."""
    found = _titles.get(database)
    if found is None:
        found = _titles[database] = TitleReferences(database)
    return found


def devices(database: Any) -> DeviceReferences:
    found = _devices.get(database)
    if found is None:
        found = _devices[database] = DeviceReferences(database)
    return found
