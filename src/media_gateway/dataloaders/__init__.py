"""Batched loaders (aiodataloader), one module per subgraph.

``keyed_loader`` turns "fetch the rows for these keys" into a DataLoader that answers each
key with its row (or ``None``), so N lookups in one tick cost one query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def keyed_loader(
    fetch: Callable[[list[K]], Awaitable[Sequence[V]]],
    key_of: Callable[[V], K],
) -> DataLoader[K, V | None]:
    async def batch(keys: list[K]) -> list[V | None]:
        rows = await fetch(list(dict.fromkeys(keys)))
        by_key = {key_of(row): row for row in rows}
        return [by_key.get(key) for key in keys]

    return DataLoader(batch)


def grouped_loader(
    fetch: Callable[[list[K]], Awaitable[Sequence[V]]],
    key_of: Callable[[V], K],
) -> DataLoader[K, list[V]]:
    """Like ``keyed_loader`` for one-to-many: each key gets the list of its rows."""

    async def batch(keys: list[K]) -> list[list[V]]:
        rows = await fetch(list(dict.fromkeys(keys)))
        groups: dict[Any, list[V]] = defaultdict(list)
        for row in rows:
            groups[key_of(row)].append(row)
        return [groups.get(key, []) for key in keys]

    return DataLoader(batch)
