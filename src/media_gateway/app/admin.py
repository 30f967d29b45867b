"""``media-gateway admin create EMAIL``: make an account an admin (creating it when there is
none), straight in the database that ``DATABASE_URL`` names (the embedded SQLite file by
default), so that the first admin needs no admin to appoint it. Later roles are assigned by
admins through the API (``adminSetAccountRole``)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from media_gateway.platform.settings import Settings, get_settings


async def create_admin(
    settings: Settings, email: str, password: str | None, display_name: str | None
) -> str:
    """Make ``email`` an admin; returns what happened, in a sentence."""
    from media_gateway.auth.tokens import token_service
    from media_gateway.storage.database import Database
    from media_gateway.subgraphs.identity.services import IdentityServices

    database = Database(settings.database_url, schema=settings.database_schema)
    services = IdentityServices.create(database, settings, token_service(settings))
    try:
        await database.migrate()
        account, created, previous = await services.administration.ensure_admin(
            email, password, display_name
        )
    finally:
        await services.aclose()
        await database.dispose()
    if created:
        return (
            f"Created the account {account.email} and made it an admin; sign in with the "
            "password you chose."
        )
    if previous == "admin":
        return f"{account.email} is already an admin; nothing changed."
    return (
        f"{account.email} is now an admin (it was {previous}); its sessions were ended: "
        "sign in again to get the admin scopes."
    )


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n") or None
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Password for the account (if it is new; Enter to skip): ")
    if not first:
        return None
    if getpass.getpass("The same password again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_admin_create(args: argparse.Namespace) -> int:
    from media_gateway.storage.database import DatabaseSetupError
    from media_gateway.subgraphs.identity.common import IdentityError

    settings = get_settings()
    try:
        password = _password(args)
        message = asyncio.run(create_admin(settings, args.email, password, args.name))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except IdentityError as exc:
        hint = (
            " (pass it on standard input with --password-stdin, or run the command in a "
            "terminal to be asked)"
            if exc.field == "password"
            else ""
        )
        print(f"error: {exc}{hint}", file=sys.stderr)
        return 2
    except DatabaseSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(message)
    return 0


def register(subparsers: Any) -> None:
    admin = subparsers.add_parser("admin", help="operators' accounts")
    actions = admin.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    create = actions.add_parser(
        "create",
        help="make an account an admin, creating it when there is none",
        description="Make the account of EMAIL an admin (creating it, with a password read "
        "from a prompt or standard input, when there is none) in the database DATABASE_URL "
        "names. The change is written to the audit log.",
    )
    create.add_argument("email", metavar="EMAIL")
    create.add_argument("--name", help="the display name of a new account")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the new account's password from the first line of standard input",
    )
    create.set_defaults(func=cmd_admin_create)
