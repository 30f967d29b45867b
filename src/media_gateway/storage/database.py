"""Async SQLAlchemy engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)

# SQLite in WAL mode copies the log back into the database (a checkpoint, with an fsync) in
# the commit that finds the log past wal_autocheckpoint pages: that writer, and every writer
# queued behind it, waits for the disk (measured: 80-100 ms stalls at 50 writes/s). Writers
# of this process therefore leave it to a passive checkpoint on a thread of its own after
# every CHECKPOINT_EVERY write transactions, which neither blocks nor waits for writers;
# the automatic checkpoint stays as a backstop for writes made elsewhere (bulk imports,
# migrations, other processes), at a larger size.
CHECKPOINT_EVERY = 100
AUTOCHECKPOINT_PAGES = 10_000


class Database:
    """One engine per database URL; sessions for units of work; readiness and migrations."""

    def __init__(self, url: str, *, echo: bool = False, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            self._ensure_sqlite_folder(url)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_recycle=1800)
            if schema:
                kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._migrated = False
        self._migrate_lock = asyncio.Lock()
        self._writers = _TaskLock()
        self._sqlite_file = self._sqlite_path(url) if self.is_sqlite else None
        self._writes_since_checkpoint = 0
        self._checkpoint: asyncio.Future[None] | None = None

    @staticmethod
    def _sqlite_path(url: str) -> Path | None:
        _, _, path = url.partition(":///")
        path = path.partition("?")[0]
        if not path or path.startswith(":memory:"):
            return None
        return Path(path).expanduser()

    @classmethod
    def _ensure_sqlite_folder(cls, url: str) -> None:
        path = cls._sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on success and rolled back on any error.

        SQLite has one writer at a time; a writer that finds the database locked polls with
        growing sleeps (up to 100 ms each), which under concurrent writes turns milliseconds
        into seconds. Writers of this process therefore queue on an asyncio lock instead,
        and each one finds the database free. (Readers are never held: WAL lets them read
        beside the writer.) PostgreSQL needs none of this."""
        if not self.is_sqlite:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._writers.hold(), self.sessions() as session, session.begin():
            yield session
        self._wrote()

    def _wrote(self) -> None:
        """Count a committed write; every CHECKPOINT_EVERY, start a passive checkpoint."""
        self._writes_since_checkpoint += 1
        if (
            self._sqlite_file is None
            or self._writes_since_checkpoint < CHECKPOINT_EVERY
            or (self._checkpoint is not None and not self._checkpoint.done())
        ):
            return
        self._writes_since_checkpoint = 0
        self._checkpoint = asyncio.ensure_future(asyncio.to_thread(_checkpoint, self._sqlite_file))

    async def ping(self, timeout: float = 2.0) -> bool:
        """Readiness: ``SELECT 1`` answered within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception as exc:  # any failure means "not ready"
            log.warning("database not ready", extra={"error": type(exc).__name__})
            return False

    async def migrate(self) -> None:
        """Apply every pending migration once per process (safe to call from each subgraph).

        A PostgreSQL schema named by ``DATABASE_SCHEMA`` that does not exist yet is created;
        what cannot be done (the database does not answer, the user may not create the
        schema) is raised as a ``DatabaseSetupError`` saying, in one line, what to do."""
        async with self._migrate_lock:
            if self._migrated:
                return
            from media_gateway.storage.migrate import upgrade

            try:
                await upgrade(self.engine, schema=None if self.is_sqlite else self.schema)
            except Exception as exc:
                raise self._setup_error(exc) from exc
            self._migrated = True

    def describe(self) -> str:
        """The database's URL without its password (for operators' logs, never clients)."""
        return self.engine.url.render_as_string(hide_password=True)

    def _setup_error(self, exc: Exception) -> DatabaseSetupError:
        state = _sqlstate(exc)
        where = self.describe()
        if state == "42501" and self.schema:  # insufficient_privilege
            return DatabaseSetupError(
                f'the PostgreSQL schema "{self.schema}" (DATABASE_SCHEMA) does not exist and '
                f'this user may not create it: run CREATE SCHEMA "{self.schema}" as its owner, '
                "grant CREATE on the database, or set DATABASE_SCHEMA to an existing schema"
            )
        if state == "3F000" and self.schema:  # invalid_schema_name
            return DatabaseSetupError(
                f'the PostgreSQL schema "{self.schema}" (DATABASE_SCHEMA) cannot be used: '
                f"create it or set DATABASE_SCHEMA to an existing schema ({_first_line(exc)})"
            )
        if state is not None:
            return DatabaseSetupError(
                f"the database {where} refused the migrations (SQLSTATE {state}): "
                f"{_first_line(exc)}"
            )
        return DatabaseSetupError(
            f"the database {where} (DATABASE_URL) cannot be used: {type(exc).__name__}: "
            f"{_first_line(exc)}; check that it runs and that the URL is right"
        )

    async def dispose(self) -> None:
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        await self.engine.dispose()


class DatabaseSetupError(Exception):
    """The database cannot be brought to the schema the product needs; the message says, in
    one line, what an operator should do."""


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, looked for along its chain of causes."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        for attribute in ("sqlstate", "pgcode"):
            value = getattr(seen, attribute, None)
            if isinstance(value, str) and value:
                return value
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:300]


def _checkpoint(path: Path) -> None:
    """Copy what the WAL holds back into the database file, without waiting for anyone."""
    try:
        connection = sqlite3.connect(path, timeout=0)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:  # the automatic checkpoint still runs, later
        log.warning("checkpoint failed", extra={"error": str(exc)})


def insert_on_conflict(dialect: str, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT for ``table`` that takes ``ON CONFLICT`` clauses (an upsert), in the
    dialect of the connection: PostgreSQL or SQLite (from 3.35, with RETURNING)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"upserts need PostgreSQL or SQLite, not {dialect}")


class _TaskLock:
    """An asyncio lock per event loop that the task holding it may take again (a
    transaction opened inside another one by the same task must not wait for itself)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._owner: asyncio.Task[Any] | None = None

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None and task is self._owner:
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            self._owner = task
            try:
                yield
            finally:
                self._owner = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
    cursor.close()
