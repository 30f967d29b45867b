"""Playback subscriptions over the real-time log: the progress the account's other devices
report for the active profile. A restricted profile receives no progress event naming a
title above its rating.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.federation.schema_directives import RequiresScopes

from media_gateway.auth.profiles import event_profile, profile_of
from media_gateway.realtime import InvalidCursor, parse_cursor
from media_gateway.schema import references
from media_gateway.schema.common import bad_input
from media_gateway.schema.context import require_scopes
from media_gateway.schema.playback import READ, Info, PlaybackProgressEvent
from media_gateway.subgraphs.playback.sessions import KIND_PROGRESS


@strawberry.type
class Subscription:
    @strawberry.subscription(
        directives=[RequiresScopes(scopes=READ)],
        description="Progress of the active profile reported by the account's devices other "
        "than `deviceId` (all of them without it); with `since`, first what was missed "
        "(within a day).",
    )
    async def playback_progress(
        self, info: Info, device_id: strawberry.ID | None = None, since: str | None = None
    ) -> AsyncGenerator[PlaybackProgressEvent, None]:
        user_id = require_scopes(info.context, READ)
        try:
            after = parse_cursor(since)
        except InvalidCursor:
            raise bad_input("Invalid cursor.", argumentName="since") from None
        realtime = info.context.realtime
        if realtime is None:
            return
        own = str(device_id) if device_id is not None else None
        profile, viewer = profile_of(info.context.viewer), info.context.viewer
        titles = references.titles(info.context.database)

        def mine(message: dict[str, Any]) -> bool:
            return event_profile(message) == profile and (
                own is None or message.get("deviceId") != own
            )

        async for message in realtime.stream(user_id, (KIND_PROGRESS,), after, mine):
            if await titles.shown(message["payload"].get("contentId"), viewer):
                yield PlaybackProgressEvent.from_message(message)
