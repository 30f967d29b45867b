"""The identity subgraph's demo data: the demo account, created at start-up when
``MEDIA_GATEWAY_SEED_DEMO`` is on."""

from __future__ import annotations

import contextlib

from media_gateway.platform.demo import (
    DEMO_DISPLAY_NAME,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    DEMO_USER_ID,
)
from media_gateway.subgraphs.identity.accounts import AccountService
from media_gateway.subgraphs.identity.common import IdentityError


async def ensure_demo_account(accounts: AccountService) -> None:
    """Create the demo account unless it exists; outside the registration limits, which
    count clients' attempts, not the service's own seed."""
    if await accounts.accounts([DEMO_USER_ID]):
        return
    with contextlib.suppress(IdentityError):  # created meanwhile by another replica
        await accounts.register(
            DEMO_EMAIL,
            DEMO_PASSWORD,
            DEMO_DISPLAY_NAME,
            user_id=DEMO_USER_ID,
            send_verification=False,
            rate_limited=False,
        )
