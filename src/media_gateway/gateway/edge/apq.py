"""Automatic persisted queries (Apollo's APQ protocol).

A client sends `extensions.persistedQuery {version: 1, sha256Hash}` without the query; an
unknown hash answers PERSISTED_QUERY_NOT_FOUND, and the client retries with hash and
query together, which registers the query after the hash is verified. The store is Redis
(shared by every gateway instance, entries expire) when configured, an in-process LRU
otherwise (and while Redis cannot be reached).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from media_gateway.platform.redis_link import RedisLink, redis_errors


class APQStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, query: str) -> None: ...

    async def aclose(self) -> None: ...


class MemoryAPQStore:
    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._d: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        q = self._d.get(sha256)
        if q is not None:
            self._d.move_to_end(sha256)
        return q

    async def put(self, sha256: str, query: str) -> None:
        self._d[sha256] = query
        self._d.move_to_end(sha256)
        while len(self._d) > self.size:
            self._d.popitem(last=False)

    async def aclose(self) -> None:
        return None


class RedisAPQStore:
    """APQ entries in Redis, shared by every gateway instance. While Redis cannot be reached
    the store keeps entries in this process (see `RedisLink`): a client then at worst
    registers its query again."""

    def __init__(self, url: str, prefix: str, ttl_seconds: int) -> None:
        self._link = RedisLink(
            url, "persisted queries are kept in this process until it answers again"
        )
        self.prefix = prefix + "apq:"
        self.ttl = ttl_seconds
        self._local = MemoryAPQStore()

    async def get(self, sha256: str) -> str | None:
        if self._link.usable:
            try:
                value = await self._link.client().get(self.prefix + sha256)
            except redis_errors() as exc:
                self._link.failed(exc)
            else:
                self._link.answered("persisted queries are shared again")
                if isinstance(value, str):
                    return value
        return await self._local.get(sha256)

    async def put(self, sha256: str, query: str) -> None:
        if self._link.usable:
            try:
                await self._link.client().set(self.prefix + sha256, query, ex=self.ttl or None)
            except redis_errors() as exc:
                self._link.failed(exc)
            else:
                self._link.answered("persisted queries are shared again")
                return
        await self._local.put(sha256, query)

    async def aclose(self) -> None:
        await self._link.aclose()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class APQError(Exception):
    message: str
    code: str

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "extensions": {"code": self.code}}


async def resolve_apq(
    store: APQStore | None, pq: Mapping[str, Any], query: str | None
) -> tuple[str, bool]:
    """The query text for an APQ request and whether it was served from the store.

    Raises APQError for a disabled store, an unknown hash or a hash that does not match.
    """
    if store is None:
        raise APQError("Persisted queries are not supported.", "PERSISTED_QUERY_NOT_SUPPORTED")
    if pq.get("version") != 1:
        raise APQError("Unsupported persisted query version; use version 1.", "BAD_REQUEST")
    digest = pq.get("sha256Hash")
    if not isinstance(digest, str) or not digest:
        raise APQError("persistedQuery.sha256Hash must be a string.", "BAD_REQUEST")
    digest = digest.lower()
    if isinstance(query, str) and query:
        if sha256_hex(query) != digest:
            raise APQError(
                "The provided sha256Hash does not match the query.",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        await store.put(digest, query)
        return query, False
    stored = await store.get(digest)
    if stored is None:
        raise APQError("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    return stored, True
