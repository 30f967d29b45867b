"""The SQL backends the storage and subgraph tests run against.

SQLite always; PostgreSQL too when ``TEST_POSTGRES_URL`` is set (each test session gets
its own schema, dropped at the end).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from media_gateway.platform.settings import Settings, normalize_database_url

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set"),
        ],
    ),
]


def make_settings(data_dir: Path, backend: str, schema: str | None = None) -> Settings:
    env = {
        "MEDIA_GATEWAY_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
    }
    if backend == "postgres":
        assert POSTGRES_URL and schema
        env["DATABASE_URL"] = POSTGRES_URL
        env["DATABASE_SCHEMA"] = schema
    return Settings.from_env(env)


async def _postgres(statement: str) -> None:
    import asyncpg

    assert POSTGRES_URL
    dsn = normalize_database_url(POSTGRES_URL).replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def postgres_schema(prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_postgres(f'CREATE SCHEMA "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(_postgres(f'DROP SCHEMA "{name}" CASCADE'))
