"""Revoked sessions: a signed-out session's access tokens stop working at once, everywhere.

Every access token names its session (the ``sid`` claim: the refresh-token family it came
from). Ending a session before its tokens expire — sign-out, sign-out everywhere, a password
change or reset, a reused refresh token — writes a numbered row to
``identity_session_revocations`` in the same transaction that revokes its refresh tokens.
Numbers are taken from one counter row whose lock the writer holds until it commits, so they
commit in order and a reader that has seen number ``n`` has seen every number below it.

Every service (the router's authenticator and each subgraph's token check) keeps the set of
sessions revoked in the last access-token lifetime in memory, so checking a token costs a
dictionary lookup. The set is brought up to date

- from the database (rows numbered above the last one seen: one indexed query answering
  nothing, most of the time), or
- with ``REDIS_URL``, from a Redis stream to which the writer appends each revocation after
  its commit (one ``XRANGE`` answering nothing, most of the time); the database is still
  read every ``BACKSTOP_SECONDS``, and at once when a number is missing from the stream.
  When Redis cannot be reached, the database is read instead.

A process that has just checked keeps using what it knows for ``FRESH_SECONDS``; after that
the next request starts a refresh in the background and still goes on, and a request that
finds the state older than ``STALE_SECONDS`` waits for the refresh. A revocation therefore
reaches every process within ``STALE_SECONDS`` (under a second), and the process that
revoked knows at once. When neither Redis nor the database answers for longer than that,
bearer tokens are refused with a clear reason (fail closed) rather than trusted blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)

REVOCATION_TABLE = "identity_session_revocations"
SEQUENCE_TABLE = "identity_revocation_sequence"
SEQUENCE_NAME = "sessions"
STREAM_KEY = "mg:identity:revocations"

FRESH_SECONDS = 0.25
STALE_SECONDS = 0.75
BACKSTOP_SECONDS = 5.0
PAGE = 1000
REDIS_TIMEOUT_SECONDS = 0.5
WAIT_SECONDS = 2.0  # the longest a request waits for a refresh before it is refused

REVOKED_MESSAGE = "this session has ended; sign in again"
UNCHECKABLE_MESSAGE = "sign-ins cannot be checked right now; try again in a moment"


class RevocationsUnavailable(Exception):
    """Neither Redis nor the database could say which sessions are revoked."""


@dataclass(frozen=True)
class Revocation:
    seq: int
    session_id: str
    expires_at: int  # Unix seconds: past it, every token of the session has expired


_REVOCATIONS = sa.table(
    REVOCATION_TABLE,
    sa.column("seq", sa.BigInteger),
    sa.column("session_id", sa.String),
    sa.column("user_id", sa.String),
    sa.column("revoked_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.BigInteger),
)
_SEQUENCE = sa.Table(
    SEQUENCE_TABLE,
    sa.MetaData(),
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)


class RevokedSessions:
    """What one process knows of revoked sessions, and how it keeps up (see the module)."""

    def __init__(
        self,
        database: Any | None,
        redis_url: str | None = None,
        *,
        stream_key: str = STREAM_KEY,
        fresh_seconds: float = FRESH_SECONDS,
        stale_seconds: float = STALE_SECONDS,
        backstop_seconds: float = BACKSTOP_SECONDS,
    ) -> None:
        self.database = database
        self.redis_url = redis_url
        self.stream_key = stream_key
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = stale_seconds
        self.backstop_seconds = backstop_seconds
        self._revoked: dict[str, int] = {}
        self._seq: int | None = None  # every number up to this one is known
        self._stream_id: str | None = None
        self._checked_at = -math.inf  # monotonic start of the last complete refresh
        self._failed_at = -math.inf
        self._database_read_at = -math.inf
        self._refresh: asyncio.Task[None] | None = None
        self._redis: Any = None
        self._redis_down = False
        self._pruned_at = time.time()

    # -- reading ------------------------------------------------------------------------
    def is_revoked(self, session_id: str | None) -> bool:
        if not session_id:
            return False
        until = self._revoked.get(session_id)
        return until is not None and until >= time.time()

    async def current(self) -> bool:
        """Whether what this process knows is recent enough to judge a token by (refreshing
        it first if needed); False when it cannot be brought up to date."""
        now = time.monotonic()
        age = now - self._checked_at
        if age < self.fresh_seconds:
            return True
        task = self._refresh
        loop = asyncio.get_running_loop()
        if task is None or task.get_loop() is not loop or task.done():
            if (
                task is not None
                and task.get_loop() is loop
                and now - self._failed_at < self.fresh_seconds
            ):
                return age < self.stale_seconds  # failed just now: no retry storm
            task = self._refresh = loop.create_task(self._update())
            task.add_done_callback(self._settled)
        if age < self.stale_seconds:
            return True  # good enough for this request; the refresh runs meanwhile
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(task), WAIT_SECONDS)
        # judged as of when the request arrived: a refresh that took long on a busy machine
        # still counts if it began no more than `stale_seconds` before this request
        return self._checked_at >= now - self.stale_seconds

    def _settled(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failed_at = time.monotonic()

    async def check(self, session_id: str | None) -> str | None:
        """Why a token of this session must be refused, or None when it may pass."""
        if not session_id:
            return None
        if not await self.current():
            return UNCHECKABLE_MESSAGE
        return REVOKED_MESSAGE if self.is_revoked(session_id) else None

    async def _update(self) -> None:
        started = time.monotonic()
        if self.redis_url:
            try:
                await self._read_stream()
            except Exception as exc:  # Redis unreachable: the database answers instead
                if not self._redis_down:
                    log.warning(
                        "revocations: Redis unreachable, reading the database",
                        extra={"error": type(exc).__name__},
                    )
                self._redis_down = True
                await self._drop_redis()
            else:
                self._redis_down = False
                if (
                    self.database is None
                    or started - self._database_read_at < self.backstop_seconds
                ):
                    self._checked_at = started
                    return
        if self.database is None:
            raise RevocationsUnavailable()
        await self._read_database()
        self._database_read_at = started
        self._checked_at = started

    async def _read_database(self) -> None:
        if self.database is None:
            raise RevocationsUnavailable()
        async with self.database.engine.connect() as connection:
            if self._seq is None:  # first read: every revocation still in force
                last = (
                    await connection.execute(
                        sa.select(sa.func.coalesce(sa.func.max(_REVOCATIONS.c.seq), 0))
                    )
                ).scalar_one()
                rows = await connection.execute(
                    sa.select(
                        _REVOCATIONS.c.seq, _REVOCATIONS.c.session_id, _REVOCATIONS.c.expires_at
                    ).where(_REVOCATIONS.c.expires_at >= int(time.time()))
                )
                self._apply(Revocation(int(s), str(i), int(e)) for s, i, e in rows)
                self._seq = max(int(last), self._seq or 0)
                return
            while True:
                rows = await connection.execute(
                    sa.select(
                        _REVOCATIONS.c.seq, _REVOCATIONS.c.session_id, _REVOCATIONS.c.expires_at
                    )
                    .where(_REVOCATIONS.c.seq > self._seq)
                    .order_by(_REVOCATIONS.c.seq)
                    .limit(PAGE)
                )
                found = [Revocation(int(s), str(i), int(e)) for s, i, e in rows]
                self._apply(found)
                if found:
                    self._seq = found[-1].seq
                if len(found) < PAGE:
                    return

    async def _read_stream(self) -> None:
        client = await self._client()
        if self._stream_id is None:
            if self.database is None:  # the stream holds every revocation still in force
                self._stream_id = "0-0"
            else:  # the database does: read it, then the stream from where it stood
                latest = await client.xrevrange(self.stream_key, count=1)
                start = _text(latest[0][0]) if latest else "0-0"
                await self._read_database()
                self._database_read_at = time.monotonic()
                self._stream_id = start
        gap = False
        while True:
            entries = await client.xrange(
                self.stream_key, min=f"({self._stream_id}", max="+", count=PAGE
            )
            numbers = []
            for entry_id, fields in entries:
                self._stream_id = _text(entry_id)
                revocation = _from_fields(fields)
                if revocation is not None:
                    self._apply((revocation,))
                    numbers.append(revocation.seq)
            gap = self._advance(numbers) or gap
            if len(entries) < PAGE:
                break
        if gap and self.database is not None:
            await self._read_database()

    def _advance(self, numbers: Sequence[int]) -> bool:
        """Move the known-up-to number over what the stream brought; True when one is
        missing (published late or not at all: the database has it)."""
        if not numbers:
            return False
        if self._seq is None:
            self._seq = max(numbers)
            return False
        for number in sorted(numbers):
            if number == self._seq + 1:
                self._seq = number
            elif number > self._seq + 1:
                if self.database is None:
                    self._seq = max(numbers)
                return self.database is not None
        return False

    def _apply(self, revocations: Iterable[Revocation]) -> None:
        now = time.time()
        for revocation in revocations:
            if revocation.expires_at >= now:
                known = self._revoked.get(revocation.session_id, 0)
                self._revoked[revocation.session_id] = max(known, revocation.expires_at)
        if now - self._pruned_at > 60:
            self._pruned_at = now
            self._revoked = {sid: until for sid, until in self._revoked.items() if until >= now}

    # -- writing ------------------------------------------------------------------------
    @staticmethod
    async def record(
        session: Any, user_id: str, session_ids: Iterable[str], expires_at: int
    ) -> list[Revocation]:
        """Number and insert revocations inside the caller's transaction (the one that also
        revokes the refresh tokens); hand the result to ``announce`` after the commit."""
        ids = sorted(set(session_ids))
        if not ids:
            return []
        connection = await session.connection()
        from media_gateway.storage.database import insert_on_conflict

        upsert = insert_on_conflict(connection.dialect.name, _SEQUENCE).values(
            name=SEQUENCE_NAME, last_seq=len(ids)
        )
        take = upsert.on_conflict_do_update(
            index_elements=[_SEQUENCE.c.name],
            set_={"last_seq": _SEQUENCE.c.last_seq + upsert.excluded.last_seq},
        ).returning(_SEQUENCE.c.last_seq)
        last = int((await connection.execute(take)).scalar_one())
        first = last - len(ids) + 1
        revocations = [
            Revocation(seq, session_id, expires_at)
            for seq, session_id in zip(range(first, last + 1), ids, strict=True)
        ]
        from media_gateway.storage.types import utcnow

        now = utcnow()
        await connection.execute(
            sa.insert(_REVOCATIONS),
            [
                {
                    "seq": r.seq,
                    "session_id": r.session_id,
                    "user_id": user_id,
                    "revoked_at": now,
                    "expires_at": r.expires_at,
                }
                for r in revocations
            ],
        )
        # rows past their use go, but never the highest number (readers start from it)
        await connection.execute(
            sa.delete(_REVOCATIONS)
            .where(_REVOCATIONS.c.expires_at < int(time.time()) - 60)
            .where(_REVOCATIONS.c.seq < first)
        )
        return revocations

    async def announce(self, revocations: Sequence[Revocation], horizon_seconds: int) -> None:
        """After the commit: this process knows at once; with Redis, every other process
        learns it from the stream (entries older than ``horizon_seconds`` are trimmed)."""
        if not revocations:
            return
        self._apply(revocations)
        if not self.redis_url:
            return
        try:
            client = await self._client()
            oldest = int((time.time() - horizon_seconds) * 1000)
            async with client.pipeline(transaction=False) as pipe:
                for revocation in revocations:
                    pipe.xadd(
                        self.stream_key,
                        {
                            "sid": revocation.session_id,
                            "exp": str(revocation.expires_at),
                            "seq": str(revocation.seq),
                        },
                        minid=oldest,
                        approximate=True,
                    )
                await pipe.execute()
        except Exception as exc:  # the database has it: readers find it on their next backstop
            log.warning(
                "revocations: could not publish to Redis",
                extra={"error": type(exc).__name__, "count": len(revocations)},
            )
            await self._drop_redis()

    # -- Redis connection ---------------------------------------------------------------
    async def _client(self) -> Any:
        if self._redis is None:
            import redis.asyncio as redis

            self._redis = redis.Redis.from_url(
                self.redis_url or "",
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
        return self._redis

    async def _drop_redis(self) -> None:
        client, self._redis = self._redis, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def aclose(self) -> None:
        task, self._refresh = self._refresh, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        await self._drop_redis()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _from_fields(fields: Any) -> Revocation | None:
    try:
        values = {_text(k): _text(v) for k, v in dict(fields).items()}
        return Revocation(int(values["seq"]), values["sid"], int(values["exp"]))
    except (KeyError, ValueError, TypeError):
        return None


# -- one per database (each process's services share what they know) ----------------------
_by_database: weakref.WeakKeyDictionary[Any, RevokedSessions] = weakref.WeakKeyDictionary()


def revoked_sessions(database: Any, redis_url: str | None = None) -> RevokedSessions:
    """The revoked sessions read through this database (and Redis, when configured)."""
    found = _by_database.get(database)
    if found is None:
        found = _by_database[database] = RevokedSessions(database, redis_url)
    return found


def install(database: Any, sessions: RevokedSessions) -> None:
    """Use ``sessions`` for this database (another stream, other timings)."""
    _by_database[database] = sessions


async def close(database: Any) -> None:
    found = _by_database.pop(database, None)
    if found is not None:
        await found.aclose()
