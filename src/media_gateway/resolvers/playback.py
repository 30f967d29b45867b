"""Playback queries and mutations: GraphQL arguments in, one call of a playback service.

Sessions, progress and history are the active profile's.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from media_gateway.auth.profiles import profile_of
from media_gateway.schema import references
from media_gateway.schema.common import ClientError
from media_gateway.schema.context import require_viewer
from media_gateway.schema.playback import Info, PlaybackSession, PlaybackState
from media_gateway.subgraphs.playback.sessions import PlaybackError

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
        user_id = require_viewer(info.context)
        found = await info.context.sessions.session(
            user_id, profile_of(info.context.viewer), str(id)
        )
        return PlaybackSession.from_record(found) if found else None


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
        search_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The searchId of the search it was picked from."),
        ] = None,
    ) -> PlaybackSession:
        user_id = require_viewer(info.context)
        database = info.context.database  # the title and the device, checked before writing
        await references.titles(database).require([str(content_id)], info.context.viewer)
        await references.devices(database).require(user_id, str(device_id), info.context.headers)
        try:
            record = await info.context.sessions.start(
                user_id,
                str(content_id),
                str(device_id),
                duration_seconds,
                profile_id=profile_of(info.context.viewer),
                search_id=str(search_id) if search_id is not None else None,
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
            record = await info.context.sessions.update(
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
            record = await info.context.sessions.end(user_id, str(session_id))
        except PlaybackError as exc:
            raise ClientError(str(exc), exc.code) from None
        return PlaybackSession.from_record(record)
