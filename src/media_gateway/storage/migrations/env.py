"""Alembic environment: runs on a connection handed over by ``media_gateway.storage.migrate``
(``media-gateway migrate``, or a service migrating its database at start-up).

The tables it compares against are those the product registered
(``media_gateway.storage.metadata.register_models``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from media_gateway.storage.metadata import models_registered, target_metadata


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        # applying migrations needs no models; comparing with them (autogenerate) does
        target_metadata=target_metadata() if models_registered() else None,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise SystemExit("Run the migrations with `media-gateway migrate`.")
    run_with_connection(connection)


main()
