"""Alembic environment: runs on a connection handed over by ``media_gateway.storage.migrate``.

Run standalone (``alembic -x url=...``) it opens its own async engine.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from media_gateway.storage.metadata import target_metadata

config = context.config


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone(url: str) -> None:
    import media_gateway.app  # noqa: F401  (registers the product's table models)

    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(run_with_connection)
    await engine.dispose()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with_connection(connection)
        return
    from media_gateway.platform.settings import Settings

    url = context.get_x_argument(as_dictionary=True).get("url") or Settings.from_env().database_url
    asyncio.run(run_standalone(url))


main()
