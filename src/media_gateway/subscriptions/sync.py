"""Sync subscriptions over the real-time log: remote commands for a device, watchlist
changes of the active profile, the presence of the account's devices.

A restricted profile receives no event naming a title above its rating.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.federation.schema_directives import RequiresScopes

from media_gateway.auth.profiles import event_profile
from media_gateway.schema.context import require_scopes
from media_gateway.schema.sync import (
    READ,
    DevicePresenceChange,
    Info,
    RemoteCommand,
    WatchlistChange,
    active_profile,
    client_error,
    event_shown,
    since_cursor,
)
from media_gateway.subgraphs.sync.commands import KIND_COMMAND
from media_gateway.subgraphs.sync.errors import SyncError
from media_gateway.subgraphs.sync.presence import KIND_PRESENCE
from media_gateway.subgraphs.sync.watchlist_set import KIND_WATCHLIST


@strawberry.type
class Subscription:
    @strawberry.subscription(
        directives=[RequiresScopes(scopes=READ)],
        description="Commands sent to this device (which must be the viewer's); with `since`, "
        "first those it missed that have not expired. Subscribing marks the device online.",
    )
    async def remote_commands(
        self, info: Info, device_id: strawberry.ID, since: str | None = None
    ) -> AsyncGenerator[RemoteCommand, None]:
        user_id = require_scopes(info.context, READ)
        after = since_cursor(since)
        presence, target = info.context.presence, str(device_id)
        try:  # a lease on the device's presence, held while subscribed
            connection = await presence.device_connected(user_id, target)
        except SyncError as exc:
            raise client_error(exc) from None
        try:
            async for message in info.context.realtime.stream(
                user_id, (KIND_COMMAND,), after, lambda m: m.get("deviceId") == target
            ):
                if await event_shown(info, message):
                    yield RemoteCommand.from_message(message)
        finally:
            await presence.device_disconnected(user_id, target, connection)

    @strawberry.subscription(
        directives=[RequiresScopes(scopes=READ)],
        description="Titles added to or removed from the active profile's watchlist.",
    )
    async def watchlist_changed(
        self, info: Info, since: str | None = None
    ) -> AsyncGenerator[WatchlistChange, None]:
        user_id = require_scopes(info.context, READ)
        after, profile = since_cursor(since), active_profile(info)
        async for message in info.context.realtime.stream(
            user_id, (KIND_WATCHLIST,), after, lambda m: event_profile(m) == profile
        ):
            if await event_shown(info, message):
                yield WatchlistChange.from_message(message)

    @strawberry.subscription(
        directives=[RequiresScopes(scopes=READ)],
        description="The viewer's devices coming online and going offline.",
    )
    async def device_presence(
        self, info: Info, since: str | None = None
    ) -> AsyncGenerator[DevicePresenceChange, None]:
        user_id = require_scopes(info.context, READ)
        after = since_cursor(since)
        async for message in info.context.realtime.stream(user_id, (KIND_PRESENCE,), after):
            yield DevicePresenceChange.from_message(message)
