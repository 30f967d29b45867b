"""Commands: ``serve``, ``subgraph NAME``, ``migrate``, ``keys rotate``, ``import movielens
PATH``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from media_gateway.app import DEFAULT_PORTS, SUBGRAPHS
from media_gateway.platform.logging import configure_logging
from media_gateway.platform.settings import get_settings


def _setup_logging() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)


def cmd_serve(args: argparse.Namespace) -> int:
    from media_gateway.app.serve import run

    _setup_logging()
    supergraph = Path(args.supergraph).expanduser() if args.supergraph else None
    return run(get_settings(), args.host, args.port, supergraph)


def cmd_subgraph(args: argparse.Namespace) -> int:
    import uvicorn

    _setup_logging()
    subgraph = SUBGRAPHS[args.name](None)
    port = args.port or DEFAULT_PORTS[args.name]
    uvicorn.run(
        subgraph.asgi_app(),
        host=args.host,
        port=port,
        log_config=None,
        access_log=False,  # the access line is our own (one per request)
        timeout_graceful_shutdown=15,
        lifespan="on",
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from media_gateway.storage.database import Database, DatabaseSetupError
    from media_gateway.storage.migrate import current_revision

    _setup_logging()
    settings = get_settings()

    async def run() -> str | None:
        database = Database(settings.database_url, schema=settings.database_schema)
        try:
            await database.migrate()
            return await current_revision(database.engine)
        finally:
            await database.dispose()

    try:
        revision = asyncio.run(run())
    except DatabaseSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Database is at revision {revision}.")
    return 0


def cmd_import_movielens(args: argparse.Namespace) -> int:
    from media_gateway.app.movielens import Accounts, MovieLensFormatError, import_movielens
    from media_gateway.storage.database import Database

    _setup_logging()
    settings = get_settings()
    path = Path(args.path).expanduser()
    if not path.is_dir():
        print(f"error: {path} is not a folder", file=sys.stderr)
        return 2

    accounts = None
    if args.accounts:
        import os

        password = args.password or os.environ.get("MOVIELENS_ACCOUNTS_PASSWORD")
        if not password:
            import secrets

            password = secrets.token_urlsafe(12)
            print(f"Password of the imported member accounts: {password}")
        accounts = Accounts(password, args.email_domain)

    async def run() -> None:
        database = Database(settings.database_url, schema=settings.database_schema)
        try:
            await database.migrate()
            await import_movielens(database, path, progress=not args.no_progress, accounts=accounts)
        finally:
            await database.dispose()

    try:
        asyncio.run(run())
    except MovieLensFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from media_gateway.auth.keys import KeyRing

    settings = get_settings()
    try:
        key = KeyRing(settings.jwt_key_dir, settings.jwt_algorithm).rotate()
    except OSError as exc:
        print(
            f"error: cannot write a key in {settings.jwt_key_dir} (JWT_KEY_DIR): "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        return 2
    print(
        f"Created signing key {key.kid} ({key.algorithm}) in {settings.jwt_key_dir}; the "
        "identity service signs with it within seconds and publishes it in its JWKS, older "
        "keys stay published so that tokens already issued stay valid."
    )
    return 0


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve", help="run the gateway and every subgraph in one process (embedded mode)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4000)
    serve.add_argument(
        "--supergraph", default=None, help="supergraph SDL file (default: the committed one)"
    )
    serve.set_defaults(func=cmd_serve)

    subgraph = subparsers.add_parser("subgraph", help="run one subgraph as its own service")
    subgraph.add_argument("name", choices=sorted(SUBGRAPHS))
    subgraph.add_argument("--host", default="127.0.0.1")
    subgraph.add_argument("--port", type=int, default=None, help="default: 4001-4005 by subgraph")
    subgraph.set_defaults(func=cmd_subgraph)

    keys = subparsers.add_parser("keys", help="the identity service's signing keys")
    actions = keys.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    rotate = actions.add_parser(
        "rotate", help="add a new signing key to JWT_KEY_DIR (the identity service's folder)"
    )
    rotate.set_defaults(func=cmd_keys_rotate)

    migrate = subparsers.add_parser("migrate", help="apply the database migrations")
    migrate.set_defaults(func=cmd_migrate)

    importer = subparsers.add_parser("import", help="import a data set")
    sources = importer.add_subparsers(dest="source", metavar="SOURCE")
    sources.required = True
    movielens = sources.add_parser("movielens", help="MovieLens-100K (RecBole atomic files)")
    movielens.add_argument("path", help="folder holding ml-100k.item and ml-100k.inter")
    movielens.add_argument(
        "--accounts",
        action="store_true",
        help="create a member account per MovieLens user: movielens-N@DOMAIN, one password",
    )
    movielens.add_argument(
        "--password",
        help="the accounts' password (else MOVIELENS_ACCOUNTS_PASSWORD, else one is generated "
        "and printed)",
    )
    movielens.add_argument(
        "--email-domain", default="example.com", help="the accounts' email domain (example.com)"
    )
    movielens.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    movielens.set_defaults(func=cmd_import_movielens)
