"""Search analytics: what viewers search for, what they find, and what they play from it.

Every first page of a search with a query is recorded (normalised query, region, the viewer or
nobody, the number of results) under a search id the client receives with the results. A
playback started with that search id (``startPlayback(searchId:)``) arrives here as a playback
event (the ``playback.events`` topic, over the in-process bus or Kafka) and is recorded as a
play from that search: the catalog never reads playback's tables. A play counts for a search
made by the same viewer, or by an anonymous viewer who signed in to play.

From those two tables: the most searched queries, queries without results, queries whose
results were never played, the click-through rate (searches followed by a play / searches),
trending queries per region (a recent window against the window before it), and proposed
rewrites: a query that found nothing (or nothing played) followed shortly, by the same viewer,
by another query that led to a play.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from media_gateway.platform import regions as region_codes
from media_gateway.platform.events import Event
from media_gateway.storage.database import Database, insert_on_conflict
from media_gateway.storage.types import as_utc, utcnow
from media_gateway.subgraphs.catalog.search.records import (
    QUERY_LENGTH,
    SearchEventRecord,
    SearchPlayRecord,
)
from media_gateway.subgraphs.catalog.text import fold

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5  # searches are written in batches off the request path
MAX_PENDING = 50_000
REWRITE_WITHIN = timedelta(minutes=2)  # how soon a second query counts as a rewrite
RETENTION = timedelta(days=400)  # searches and plays older than this are deleted
PRUNE_INTERVAL_SECONDS = 3600.0
MAX_REWRITE_ROWS = 200_000  # signed-in searches read to find rewrites
SEARCH_ID = re.compile(r"^[0-9a-f]{32}$")

_EVENTS: sa.Table = SearchEventRecord.__table__  # type: ignore[attr-defined]
_PLAYS: sa.Table = SearchPlayRecord.__table__  # type: ignore[attr-defined]


class SearchAnalyticsError(ValueError):
    """A request about search analytics a client can correct."""


def normalize_query(text: str) -> str:
    """The form a query is counted under: folded (lower case, no accents), single-spaced."""
    return " ".join(fold(text).split())[:QUERY_LENGTH]


def normalize_region(region: str | None) -> str | None:
    """An assigned ISO 3166-1 alpha-2 region code, upper case; None for none. Raises for
    anything else."""
    if region is None or not region.strip():
        return None
    code = region_codes.normalize_region(region)
    if code is None:
        raise SearchAnalyticsError(f"{region!r} is not an ISO 3166-1 region code.")
    return code


def is_search_id(value: str) -> bool:
    return bool(SEARCH_ID.match(value))


@dataclass(frozen=True)
class Window:
    """The searches to count: made in [since, until), in a region (None: every region)."""

    since: datetime
    until: datetime
    region: str | None = None

    @classmethod
    def of(
        cls,
        since: datetime | None,
        until: datetime | None,
        region: str | None,
        default_days: int = 7,
    ) -> Window:
        end = as_utc(until) if until else utcnow()
        start = as_utc(since) if since else end - timedelta(days=default_days)
        if start >= end:
            raise SearchAnalyticsError("`since` must be before `until`.")
        return cls(start, end, normalize_region(region))


@dataclass(frozen=True)
class SearchSummary:
    searches: int  # searches recorded in the window
    queries: int  # distinct normalised queries
    zero_result_searches: int
    searches_with_play: int  # searches followed by at least one playback
    plays: int  # playbacks started from those searches

    @property
    def click_through_rate(self) -> float:
        return self.searches_with_play / self.searches if self.searches else 0.0


@dataclass(frozen=True)
class QueryStats:
    query: str
    searches: int
    viewers: int  # distinct signed-in viewers
    zero_result_searches: int
    average_results: float
    searches_with_play: int
    last_searched_at: datetime

    @property
    def click_through_rate(self) -> float:
        return self.searches_with_play / self.searches if self.searches else 0.0


@dataclass(frozen=True)
class TrendingQuery:
    query: str
    region: str | None
    recent_searches: int
    baseline_searches: int
    lift: float  # (recent + 1) / (baseline scaled to the recent window + 1)


@dataclass(frozen=True)
class RewriteProposal:
    from_query: str
    to_query: str
    rewrites: int  # times a viewer went from one to the other
    viewers: int
    from_zero_results: int  # of those, how often the first query found nothing


def _played_searches() -> sa.Subquery:
    """Ids of searches followed by a playback of the same viewer (or after an anonymous one)."""
    return (
        sa.select(_PLAYS.c.search_id, sa.func.count().label("plays"))
        .select_from(_PLAYS.join(_EVENTS, _EVENTS.c.id == _PLAYS.c.search_id))
        .where(sa.or_(_EVENTS.c.viewer_id.is_(None), _EVENTS.c.viewer_id == _PLAYS.c.viewer_id))
        .group_by(_PLAYS.c.search_id)
        .subquery("played")
    )


def _in_window(window: Window) -> list[Any]:
    conditions: list[Any] = [
        _EVENTS.c.searched_at >= window.since,
        _EVENTS.c.searched_at < window.until,
    ]
    if window.region is not None:
        conditions.append(_EVENTS.c.region == window.region)
    return conditions


class SearchAnalytics:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._pending: list[dict[str, Any]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    # -- recording ------------------------------------------------------------------------
    def record_search(
        self,
        query: str,
        *,
        regions: Sequence[str] | None,
        viewer_id: str | None,
        result_count: int,
    ) -> str | None:
        """Queue a search for writing; its id (for ``startPlayback``), or None when the query
        is blank (browsing by filters alone is not a search). The search's region is the one
        region it was filtered on, if exactly one."""
        normalized = normalize_query(query)
        if not normalized:
            return None
        only = regions[0] if regions and len(regions) == 1 else None
        region = region_codes.normalize_region(only)
        search_id = uuid.uuid4().hex
        self._pending.append(
            {
                "id": search_id,
                "query": normalized,
                "region": region,
                "viewer_id": viewer_id,
                "result_count": max(0, int(result_count)),
                "searched_at": utcnow(),
            }
        )
        if len(self._pending) > MAX_PENDING:  # storage is down: keep the newest
            del self._pending[: len(self._pending) - MAX_PENDING]
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_later())
        return search_id

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            await self.flush()
        except Exception:  # kept in the queue; the next search tries again
            log.exception("writing search analytics failed")

    async def flush(self) -> int:
        """Write every queued search (one transaction); readers call this first."""
        async with self._flush_lock:
            rows, self._pending = self._pending, []
            if not rows:
                return 0
            try:
                async with self.database.transaction() as session:
                    connection = await session.connection()
                    await connection.execute(_EVENTS.insert(), rows)
            except BaseException:
                self._pending[:0] = rows
                raise
        return len(rows)

    async def close(self) -> None:
        task = self._flushing
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self.flush()
        except Exception:
            log.exception("writing search analytics at shutdown failed")

    async def on_playback_event(self, event: Event) -> None:
        """A playback started with a search id is a play from that search (once per playback
        session, however often the event is delivered)."""
        payload = event.payload
        search_id = payload.get("searchId")
        if payload.get("type") != "started" or not isinstance(search_id, str):
            return
        session_id, user_id = payload.get("sessionId"), payload.get("userId")
        content_id = payload.get("contentId")
        if not is_search_id(search_id) or not session_id or not user_id or not content_id:
            return
        async with self.database.transaction() as session:
            connection = await session.connection()
            statement = insert_on_conflict(connection.dialect.name, _PLAYS)
            await connection.execute(
                statement.on_conflict_do_nothing(index_elements=[_PLAYS.c.session_id]),
                {
                    "session_id": str(session_id)[:64],
                    "search_id": search_id,
                    "viewer_id": str(user_id)[:64],
                    "content_id": str(content_id)[:160],
                    "played_at": utcnow(),
                },
            )

    async def prune(self, retention: timedelta = RETENTION) -> int:
        """Delete searches and plays older than ``retention``; how many searches went."""
        cutoff = utcnow() - retention
        async with self.database.transaction() as session:
            connection = await session.connection()
            await connection.execute(_PLAYS.delete().where(_PLAYS.c.played_at < cutoff))
            result = await connection.execute(
                _EVENTS.delete().where(_EVENTS.c.searched_at < cutoff)
            )
        return int(result.rowcount or 0)

    # -- reading --------------------------------------------------------------------------
    async def summary(self, window: Window) -> SearchSummary:
        await self.flush()
        played = _played_searches()
        statement = (
            sa.select(
                sa.func.count(),
                sa.func.count(sa.distinct(_EVENTS.c.query)),
                sa.func.coalesce(
                    sa.func.sum(sa.case((_EVENTS.c.result_count == 0, 1), else_=0)), 0
                ),
                sa.func.count(played.c.search_id),
                sa.func.coalesce(sa.func.sum(played.c.plays), 0),
            )
            .select_from(_EVENTS.outerjoin(played, played.c.search_id == _EVENTS.c.id))
            .where(*_in_window(window))
        )
        async with self.database.session() as session:
            row = (await (await session.connection()).execute(statement)).one()
        return SearchSummary(
            searches=int(row[0]),
            queries=int(row[1]),
            zero_result_searches=int(row[2]),
            searches_with_play=int(row[3]),
            plays=int(row[4]),
        )

    async def query_stats(self, window: Window, order: str, first: int) -> list[QueryStats]:
        """Per normalised query. ``order``: ``top`` (most searched), ``zero_results``
        (queries that found nothing, most often first) or ``unplayed`` (queries that found
        titles, none of which was ever played from them)."""
        await self.flush()
        played = _played_searches()
        searches = sa.func.count().label("searches")
        zero = sa.func.coalesce(
            sa.func.sum(sa.case((_EVENTS.c.result_count == 0, 1), else_=0)), 0
        ).label("zero")
        with_play = sa.func.count(played.c.search_id).label("with_play")
        statement = (
            sa.select(
                _EVENTS.c.query,
                searches,
                sa.func.count(sa.distinct(_EVENTS.c.viewer_id)),
                zero,
                sa.func.avg(_EVENTS.c.result_count),
                with_play,
                sa.func.max(_EVENTS.c.searched_at),
            )
            .select_from(_EVENTS.outerjoin(played, played.c.search_id == _EVENTS.c.id))
            .where(*_in_window(window))
            .group_by(_EVENTS.c.query)
        )
        if order == "top":
            statement = statement.order_by(searches.desc(), _EVENTS.c.query)
        elif order == "zero_results":
            statement = statement.having(zero > 0).order_by(zero.desc(), _EVENTS.c.query)
        elif order == "unplayed":
            statement = statement.having(
                sa.and_(sa.func.max(_EVENTS.c.result_count) > 0, with_play == 0)
            ).order_by(searches.desc(), _EVENTS.c.query)
        else:
            raise ValueError(f"unknown order {order!r}")
        async with self.database.session() as session:
            rows = (await (await session.connection()).execute(statement.limit(first))).all()
        return [
            QueryStats(
                query=row[0],
                searches=int(row[1]),
                viewers=int(row[2]),
                zero_result_searches=int(row[3]),
                average_results=float(row[4] or 0.0),
                searches_with_play=int(row[5]),
                last_searched_at=as_utc(row[6]),
            )
            for row in rows
        ]

    async def trending(
        self,
        region: str | None,
        *,
        recent: timedelta,
        baseline: timedelta,
        first: int,
        min_searches: int = 2,
        now: datetime | None = None,
    ) -> list[TrendingQuery]:
        """Queries searched more in the recent window than the baseline before it predicts,
        per region (one region, or each region when None); the highest lift first."""
        if recent <= timedelta(0) or baseline <= timedelta(0):
            raise SearchAnalyticsError("The recent and baseline windows must be positive.")
        await self.flush()
        end = now or utcnow()
        split = end - recent
        start = split - baseline
        is_recent = sa.case((_EVENTS.c.searched_at >= split, 1), else_=0)
        is_baseline = sa.case((_EVENTS.c.searched_at < split, 1), else_=0)
        conditions: list[Any] = [_EVENTS.c.searched_at >= start, _EVENTS.c.searched_at < end]
        if region is not None:
            conditions.append(_EVENTS.c.region == region)
        statement = (
            sa.select(
                _EVENTS.c.region,
                _EVENTS.c.query,
                sa.func.sum(is_recent),
                sa.func.sum(is_baseline),
            )
            .where(*conditions)
            .group_by(_EVENTS.c.region, _EVENTS.c.query)
            .having(sa.func.sum(is_recent) >= min_searches)
        )
        async with self.database.session() as session:
            rows = (await (await session.connection()).execute(statement)).all()
        scale = recent / baseline
        found = []
        for row_region, query, recent_count, baseline_count in rows:
            expected = int(baseline_count or 0) * scale
            lift = (int(recent_count) + 1) / (expected + 1)
            if lift > 1.0:
                found.append(
                    TrendingQuery(
                        query=query,
                        region=row_region,
                        recent_searches=int(recent_count),
                        baseline_searches=int(baseline_count or 0),
                        lift=lift,
                    )
                )
        found.sort(key=lambda t: (-t.lift, -t.recent_searches, t.region or "", t.query))
        return found[:first]

    async def rewrite_proposals(
        self, window: Window, *, min_viewers: int, first: int
    ) -> list[RewriteProposal]:
        """Pairs (A, B): a viewer searched A, which found nothing or nothing they played, then
        within ``REWRITE_WITHIN`` searched B and played from it; most viewers first."""
        await self.flush()
        played = _played_searches()
        statement = (
            sa.select(
                _EVENTS.c.viewer_id,
                _EVENTS.c.query,
                _EVENTS.c.searched_at,
                _EVENTS.c.result_count,
                played.c.search_id.is_not(None),
            )
            .select_from(_EVENTS.outerjoin(played, played.c.search_id == _EVENTS.c.id))
            .where(*_in_window(window), _EVENTS.c.viewer_id.is_not(None))
            .order_by(_EVENTS.c.viewer_id, _EVENTS.c.searched_at, _EVENTS.c.id)
            .limit(MAX_REWRITE_ROWS)
        )
        async with self.database.session() as session:
            rows = (await (await session.connection()).execute(statement)).all()
        pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        viewers: dict[tuple[str, str], set[str]] = defaultdict(set)
        for before, after in pairwise(rows):
            viewer, first_query, first_at, first_results, first_played = before
            if after[0] != viewer or after[1] == first_query or first_played or not after[4]:
                continue
            if as_utc(after[2]) - as_utc(first_at) > REWRITE_WITHIN:
                continue
            key = (first_query, after[1])
            pairs[key][0] += 1
            pairs[key][1] += 1 if first_results == 0 else 0
            viewers[key].add(viewer)
        proposals = [
            RewriteProposal(a, b, counts[0], len(viewers[(a, b)]), counts[1])
            for (a, b), counts in pairs.items()
            if len(viewers[(a, b)]) >= min_viewers
        ]
        proposals.sort(key=lambda p: (-p.viewers, -p.rewrites, p.from_query, p.to_query))
        return proposals[:first]
