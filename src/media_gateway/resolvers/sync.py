"""Sync queries and mutations: GraphQL arguments in, one call of a sync service, types out.

The watchlist and replicated progress are the active profile's; devices and remote commands
the account's. A restricted profile receives no event naming a title above its rating.
"""

from __future__ import annotations

import strawberry

from media_gateway.auth.profiles import event_profile
from media_gateway.schema import references
from media_gateway.schema.context import require_viewer
from media_gateway.schema.sync import (
    Device,
    DeviceCapability,
    DeviceKind,
    Info,
    RemoteCommand,
    RemoteCommandInput,
    SyncedProgress,
    SyncOperationInput,
    SyncResult,
    SyncState,
    User,
    WatchlistChange,
    WatchlistEntry,
    active_profile,
    client_error,
    since_cursor,
    visible,
)
from media_gateway.subgraphs.sync import crdt
from media_gateway.subgraphs.sync.commands import KIND_COMMAND, RemoteCommandSpec
from media_gateway.subgraphs.sync.errors import SyncError
from media_gateway.subgraphs.sync.watchlist_set import KIND_WATCHLIST

# what each operation needs (``@requiresScopes``): enforced here by the authorization
# extension and again by the router
READ = [["sync:read"]]
WRITE = [["sync:write"]]


async def _watchlist(info: Info, user_id: str) -> list[WatchlistEntry]:
    rows = await info.context.watchlist.watchlists([(user_id, active_profile(info))])
    shown = await visible(info, [r.content_id for r in rows])
    return [WatchlistEntry.from_record(r) for r in rows if r.content_id in shown]


async def _progress(info: Info, user_id: str) -> list[SyncedProgress]:
    rows = await info.context.progress.registers(user_id, profile_id=active_profile(info))
    shown = await visible(info, [r.content_id for r in rows])
    return [SyncedProgress.from_record(r) for r in rows if r.content_id in shown]


async def _require_titles(info: Info, ids: list[str]) -> None:
    """The titles exist and the profile may see them, before anything is written."""
    await references.titles(info.context.database).require(ids, info.context.viewer)


@strawberry.type
class Query:
    @strawberry.federation.field(
        requires_scopes=READ,
        description="The viewer's replicated state and what happened after `since` (a cursor "
        "from an earlier answer or event): resume subscriptions with the returned cursor.",
    )
    async def sync_state(
        self, info: Info, device_id: strawberry.ID | None = None, since: str | None = None
    ) -> SyncState:
        user_id = require_viewer(info.context)
        after = since_cursor(since) or 0
        realtime = info.context.realtime
        if device_id is not None:
            try:
                await info.context.devices.owned_device(user_id, str(device_id))
            except SyncError as exc:
                raise client_error(exc) from None
        cursor = await realtime.latest_cursor(user_id)
        events = await realtime.replay(user_id, (KIND_COMMAND, KIND_WATCHLIST), after)
        profile = active_profile(info)
        commands = [
            RemoteCommand.from_message(m)
            for m in events
            if m["kind"] == KIND_COMMAND and device_id is not None and m["deviceId"] == device_id
        ]
        changes = [
            WatchlistChange.from_message(m)
            for m in events
            if m["kind"] == KIND_WATCHLIST and event_profile(m) == profile
        ]
        shown = await visible(
            info,
            [str(c.content.id) for c in changes]
            + [str(c.content.id) for c in commands if c.content],
        )
        changes = [c for c in changes if str(c.content.id) in shown]
        commands = [c for c in commands if c.content is None or str(c.content.id) in shown]
        return SyncState(
            cursor=str(cursor),
            hlc=str(realtime.clock.tick()),
            watchlist=await _watchlist(info, user_id),
            progress=await _progress(info, user_id),
            pending_commands=commands,
            watchlist_changes=changes,
        )


@strawberry.type
class Mutation:
    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description="Save a title to the active profile's watchlist (idempotent).",
    )
    async def add_to_watchlist(self, info: Info, content_id: strawberry.ID) -> User:
        user_id = require_viewer(info.context)
        await _require_titles(info, [str(content_id)])
        try:
            await info.context.watchlist.add(
                user_id, str(content_id), profile_id=active_profile(info)
            )
        except SyncError as exc:
            raise client_error(exc) from None
        return User(id=strawberry.ID(user_id))

    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description="Remove a title from the active profile's watchlist (idempotent).",
    )
    async def remove_from_watchlist(self, info: Info, content_id: strawberry.ID) -> User:
        user_id = require_viewer(info.context)
        await info.context.watchlist.remove(
            user_id, str(content_id), profile_id=active_profile(info)
        )
        return User(id=strawberry.ID(user_id))

    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description="Register one of the viewer's devices. Leave out `capabilities` for the "
        "defaults of its kind (a TV can be remote-controlled; see `DeviceCapability`).",
    )
    async def register_device(
        self,
        info: Info,
        name: str,
        kind: DeviceKind,
        capabilities: list[DeviceCapability] | None = None,
    ) -> Device:
        user_id = require_viewer(info.context)
        try:
            record = await info.context.devices.register_device(
                user_id,
                name,
                kind.value,
                None if capabilities is None else [str(c.value) for c in capabilities],
            )
        except SyncError as exc:
            raise client_error(exc) from None
        return Device.from_record(record)

    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description="Replay a device's offline changes: idempotent by operation id, and the "
        "same final state whatever the order or duplication of delivery.",
    )
    async def sync_operations(
        self, info: Info, device_id: strawberry.ID, operations: list[SyncOperationInput]
    ) -> SyncResult:
        user_id = require_viewer(info.context)
        ops = [
            crdt.Operation(
                id=str(o.id),
                type=o.type.value,
                content_id=str(o.content_id),
                hlc=o.hlc,
                device_id=str(device_id),
                position_seconds=o.position_seconds,
                duration_seconds=o.duration_seconds,
                state=o.state,
                observed_tags=None
                if o.observed_tags is None
                else frozenset(str(t) for t in o.observed_tags),
            )
            for o in operations
        ]
        await _require_titles(info, [o.content_id for o in ops if o.type != "WATCHLIST_REMOVE"])
        try:
            outcome = await info.context.replication.sync_operations(
                user_id, str(device_id), ops, profile_id=active_profile(info)
            )
        except SyncError as exc:
            raise client_error(exc) from None
        return SyncResult(
            applied=outcome.applied,
            duplicates=outcome.duplicates,
            hlc=outcome.hlc,
            watchlist=await _watchlist(info, user_id),
            progress=await _progress(info, user_id),
        )

    @strawberry.federation.mutation(
        requires_scopes=WRITE,
        description="Send a command to one of the viewer's devices; it is delivered while the "
        "device is subscribed (or when it catches up) and never after `ttlSeconds`.",
    )
    async def send_remote_command(
        self,
        info: Info,
        target_device_id: strawberry.ID,
        command: RemoteCommandInput,
        ttl_seconds: int = 30,
        from_device_id: strawberry.ID | None = None,
    ) -> RemoteCommand:
        user_id = require_viewer(info.context)
        spec = RemoteCommandSpec(
            type=command.type.value,
            position_seconds=command.position_seconds,
            volume=command.volume,
            content_id=str(command.content_id) if command.content_id else None,
        )
        await _require_titles(info, [spec.content_id] if spec.content_id else [])
        try:
            sent = await info.context.commands.send_command(
                user_id,
                str(target_device_id),
                spec,
                ttl_seconds,
                str(from_device_id) if from_device_id else None,
            )
        except SyncError as exc:
            raise client_error(exc) from None
        return RemoteCommand.from_message(
            {
                "id": int(sent["cursor"]),
                "payload": sent,
                "createdAt": sent["issuedAt"].timestamp(),
                "expiresAt": sent["expiresAt"].timestamp(),
            }
        )
