"""The demo account is seeded whatever the registration limits have counted.

The per-email registration limit is kept in Redis, shared by every database a deployment (or
a test run) uses: seeding the demo account into a fresh database must not spend it, or the
demo account would silently be missing once the limit is reached.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from media_gateway.app import SUBGRAPHS
from media_gateway.assembly.base import Runtime
from media_gateway.platform.demo import DEMO_EMAIL, DEMO_PASSWORD
from media_gateway.platform.settings import Settings
from media_gateway.subgraphs.identity.common import Limit
from media_gateway.subgraphs.identity.demo import ensure_demo_account

from .conftest import identity_services


async def test_the_demo_account_is_seeded_when_registrations_are_exhausted(
    tmp_path: Path,
) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'identity.sqlite'}",
            "JWT_KEY_DIR": str(tmp_path / "keys"),
            "MEDIA_GATEWAY_SEED_DEMO": "0",
        }
    )
    runtime = Runtime.create(settings)
    subgraph = SUBGRAPHS["identity"](runtime)
    services = identity_services(subgraph)
    exhausted = Limit(0, 3600)  # nothing more may register, from anywhere
    services.stores.limits = replace(
        services.stores.limits, register_per_email=exhausted, register_per_address=exhausted
    )
    await runtime.database.migrate()
    try:
        await ensure_demo_account(services.accounts)
        session = await services.sign_in.login(DEMO_EMAIL, DEMO_PASSWORD, None)
        assert session.user.email == DEMO_EMAIL
    finally:
        await runtime.close()
