"""Playback queries, mutations and subscriptions: GraphQL to ``PlaybackService`` calls.

Sessions, progress and history are the active profile's; a restricted profile receives no
progress event naming a title above its rating.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.federation.schema_directives import RequiresScopes

from media_gateway.profiles import event_profile, profile_of
from media_gateway.realtime import InvalidCursor, parse_cursor
from media_gateway.schema.common import ClientError, bad_input
from media_gateway.schema.context import require_scopes, require_viewer
from media_gateway.schema.playback import (
    Info,
    PlaybackProgressEvent,
    PlaybackSession,
    PlaybackState,
)
from media_gateway.subgraphs import references
from media_gateway.subgraphs.playback.service import KIND_PROGRESS, PlaybackError

# what each operation needs (``@requiresScopes``): enforced here by the authorization
# extension and again by the router
READ = [["playback:read"]]
WRITE = [["playback:write"]]


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=READ, description="One of the active profile's playback sessions."
    )
    async def playback_session(self, info: Info, id: strawberry.ID) -> PlaybackSession | None:
        from media_gateway.subgraphs.playback.models import PlaybackSessionRecord

        user_id = require_viewer(info.context)
        async with info.context.database.session() as session:
            record = await session.get(PlaybackSessionRecord, str(id))
        if record is None or (record.user_id, record.profile_id) != (
            user_id,
            profile_of(info.context.viewer),
        ):
            return None
        return PlaybackSession.from_record(record)


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description="Start playing a title on a device; says where to resume.",
    )
    async def start_playback(
        self,
        info: Info,
        content_id: strawberry.ID,
        device_id: strawberry.ID,
        duration_seconds: int | None = None,
    ) -> PlaybackSession:
        user_id = require_viewer(info.context)
        database = info.context.database  # the title and the device, checked before writing
        await references.titles(database).require([str(content_id)], info.context.viewer)
        await references.devices(database).require(user_id, str(device_id), info.context.headers)
        try:
            record = await info.context.service.start(
                user_id,
                str(content_id),
                str(device_id),
                duration_seconds,
                profile_id=profile_of(info.context.viewer),
            )
        except PlaybackError as exc:
            raise ClientError(str(exc), exc.code) from None
        return PlaybackSession.from_record(record)

    @strawberry.federation.mutation(
        requires_scopes=WRITE, description="Report the player's position and state."
    )
    async def update_playback_progress(
        self, info: Info, session_id: strawberry.ID, position_seconds: int, state: PlaybackState
    ) -> PlaybackSession:
        user_id = require_viewer(info.context)
        try:
            record = await info.context.service.update(
                user_id, str(session_id), position_seconds, state.value
            )
        except PlaybackError as exc:
            raise ClientError(str(exc), exc.code) from None
        return PlaybackSession.from_record(record)

    @strawberry.federation.mutation(
        requires_scopes=WRITE, description="End a playback session (recorded in the watch history)."
    )
    async def end_playback(self, info: Info, session_id: strawberry.ID) -> PlaybackSession:
        user_id = require_viewer(info.context)
        try:
            record = await info.context.service.end(user_id, str(session_id))
        except PlaybackError as exc:
            raise ClientError(str(exc), exc.code) from None
        return PlaybackSession.from_record(record)


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
        realtime = info.context.service.realtime
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
