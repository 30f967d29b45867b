"""Storage: settings, migrations on SQLite and PostgreSQL, readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import select

from media_gateway.platform.settings import Settings, normalize_database_url
from media_gateway.storage.database import Database
from media_gateway.storage.migrate import current_revision, downgrade, head_revision, upgrade

from .backends import BACKENDS, make_settings, postgres_schema

TABLES = {
    "identity_users",
    "identity_refresh_tokens",
    "catalog_contents",
    "catalog_content_genres",
    "catalog_availability",
    "playback_sessions",
    "playback_progress",
    "playback_watch_history",
    "playback_outbox",
    "sync_devices",
    "sync_watchlist",
    "recommendations_interactions",
}


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "postgres":
        with postgres_schema("mg_storage") as schema:
            yield make_settings(tmp_path, "postgres", schema)
    else:
        yield make_settings(tmp_path, "sqlite")


def test_settings_defaults_are_embedded(tmp_path: Path) -> None:
    settings = Settings.from_env({"MEDIA_GATEWAY_DATA_DIR": str(tmp_path)})
    assert (
        settings.database_url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/media-gateway.sqlite"
    )
    assert settings.qdrant_path == tmp_path / "qdrant" and settings.qdrant_url is None
    assert settings.jwt_key_dir == tmp_path / "keys" and settings.jwt_algorithm == "RS256"
    assert settings.redis_url is None and settings.kafka_bootstrap_servers is None


def test_settings_normalise_and_never_crash() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://user@db:5432/media",
            "JWT_ALGORITHM": "none",
            "JWT_ACCESS_TOKEN_TTL_SECONDS": "soon",
            "REDIS_URL": "  ",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://user@db:5432/media"
    assert settings.jwt_algorithm == "RS256"
    assert settings.jwt_access_token_ttl_seconds == 900
    assert settings.redis_url is None
    assert normalize_database_url("postgres://h/d") == "postgresql+asyncpg://h/d"
    assert normalize_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


async def test_migrations_create_every_table_and_go_both_ways(settings: Settings) -> None:
    database = Database(settings.database_url, schema=settings.database_schema)
    try:
        await upgrade(database.engine)
        assert await current_revision(database.engine) == head_revision()
        async with database.engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        assert tables >= TABLES
        await upgrade(database.engine)  # idempotent
        await downgrade(database.engine, "base")
        async with database.engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        assert not TABLES & tables
        await database.migrate()
        assert await current_revision(database.engine) == head_revision()
        assert await database.ping()
    finally:
        await database.dispose()


async def test_a_failed_unit_of_work_leaves_nothing(settings: Settings) -> None:
    from sqlmodel import select

    from media_gateway.subgraphs.sync.models import WatchlistEntryRecord

    database = Database(settings.database_url, schema=settings.database_schema)
    try:
        await database.migrate()
        with pytest.raises(RuntimeError):
            async with database.transaction() as session:
                session.add(WatchlistEntryRecord(user_id="u", content_id="c"))
                await session.flush()
                raise RuntimeError("boom")
        async with database.session() as session:
            assert (await session.exec(select(WatchlistEntryRecord))).all() == []
    finally:
        await database.dispose()


async def test_readiness_fails_while_the_database_is_unreachable() -> None:
    database = Database("postgresql+asyncpg://nobody@127.0.0.1:5199/none")
    try:
        assert not await database.ping(timeout=2)
    finally:
        await database.dispose()


async def test_sqlite_commits_leave_checkpoints_to_a_background_thread(tmp_path: Path) -> None:
    """A commit never copies the log back into the database file itself (that fsync stalled
    every writer queued behind it); a passive checkpoint does, after CHECKPOINT_EVERY."""
    from media_gateway.storage import database as storage
    from media_gateway.subgraphs.sync.models import WatchlistEntryRecord

    path = tmp_path / "checkpoints.sqlite"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await database.migrate()
        async with database.transaction() as session:  # the WAL exists from here on
            session.add(WatchlistEntryRecord(user_id="u", content_id="c-first"))
        await asyncio.gather(*filter(None, [database._checkpoint]))
        size = path.stat().st_size
        for i in range(storage.CHECKPOINT_EVERY - 2):
            async with database.transaction() as session:
                session.add(WatchlistEntryRecord(user_id="u", content_id=f"c-{i:04d}-" + "x" * 900))
        assert path.stat().st_size == size  # everything so far is in the log only
        assert database._checkpoint is None or database._checkpoint.done()
        async with database.transaction() as session:
            session.add(WatchlistEntryRecord(user_id="u", content_id="c-last"))
        assert database._checkpoint is not None
        await database._checkpoint
        assert path.stat().st_size > size  # the checkpoint wrote the new pages back
        async with database.session() as session:
            rows = (await session.exec(select(WatchlistEntryRecord))).all()
        assert len(rows) == storage.CHECKPOINT_EVERY
    finally:
        await database.dispose()


async def test_migrations_build_what_the_models_describe(settings: Settings) -> None:
    """Every table, column and index of the models, as the migrations leave the database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import media_gateway.app  # noqa: F401  (registers every table model)
    from media_gateway.storage.metadata import target_metadata

    database = Database(settings.database_url, schema=settings.database_schema)
    try:
        await database.migrate()
        async with database.engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), target_metadata())
            )
        assert differences == []
    finally:
        await database.dispose()
