"""Sync types: devices, the watchlist, replicated progress, remote commands and the events
their subscriptions deliver; extends ``User``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry

from media_gateway.auth.profiles import profile_of
from media_gateway.dataloaders.sync import SyncLoaders
from media_gateway.realtime import InvalidCursor, Realtime, parse_cursor
from media_gateway.schema import references
from media_gateway.schema.common import ClientError, bad_input
from media_gateway.schema.context import RequestContext, require_viewer
from media_gateway.subgraphs.sync import devices as device_rules
from media_gateway.subgraphs.sync.commands import CommandService
from media_gateway.subgraphs.sync.devices import DeviceService, RegisteredDevice
from media_gateway.subgraphs.sync.errors import SyncError
from media_gateway.subgraphs.sync.presence import PresenceService
from media_gateway.subgraphs.sync.progress import ProgressRegister, ProgressService
from media_gateway.subgraphs.sync.replication import ReplicationService
from media_gateway.subgraphs.sync.watchlist import SavedTitle, WatchlistService


@dataclass
class SyncContext(RequestContext):
    """What sync's resolvers reach per request: each sub-domain's service and the loaders."""

    realtime: Realtime
    devices: DeviceService
    watchlist: WatchlistService
    progress: ProgressService
    replication: ReplicationService
    presence: PresenceService
    commands: CommandService
    loaders: SyncLoaders


Info = strawberry.Info[SyncContext, None]
READ = [["sync:read"]]  # the profile's watchlist, the account's devices (``@requiresScopes``)


@strawberry.enum
class DeviceKind(Enum):
    PHONE = "PHONE"
    TABLET = "TABLET"
    TV = "TV"
    WEB = "WEB"
    CONSOLE = "CONSOLE"


@strawberry.enum(
    description="What a device can do. Remote commands need some of these on the target "
    "device: every command needs REMOTE_CONTROL, VOLUME also VOLUME_CONTROL, CAST also "
    "CAST_TARGET. A device registered without capabilities gets its kind's defaults: TV and "
    "CONSOLE: REMOTE_CONTROL, VOLUME_CONTROL, CAST_TARGET; WEB: REMOTE_CONTROL, CAST_TARGET; "
    "PHONE and TABLET: CAST_SOURCE."
)
class DeviceCapability(Enum):
    REMOTE_CONTROL = strawberry.enum_value(
        device_rules.REMOTE_CONTROL,
        description="Plays, pauses, seeks and stops when another of the account's devices "
        "asks (remote commands).",
    )
    VOLUME_CONTROL = strawberry.enum_value(
        device_rules.VOLUME_CONTROL, description="Its volume can be set remotely (VOLUME)."
    )
    CAST_TARGET = strawberry.enum_value(
        device_rules.CAST_TARGET,
        description="Starts playing a title another device sends it (CAST).",
    )
    CAST_SOURCE = strawberry.enum_value(
        device_rules.CAST_SOURCE, description="Can send titles to other devices to play."
    )
    UHD = strawberry.enum_value(device_rules.UHD, description="Plays 4K (UHD) video.")
    HDR = strawberry.enum_value(device_rules.HDR, description="Plays HDR video.")


@strawberry.enum(description="Whether a device is connected right now.")
class DevicePresence(Enum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"


@strawberry.enum(description="What a remote command asks the target device to do.")
class RemoteCommandType(Enum):
    PLAY = "PLAY"
    PAUSE = "PAUSE"
    SEEK = "SEEK"
    STOP = "STOP"
    VOLUME = "VOLUME"
    CAST = "CAST"


@strawberry.enum(description="A change a device made while offline.")
class SyncOperationType(Enum):
    WATCHLIST_ADD = "WATCHLIST_ADD"
    WATCHLIST_REMOVE = "WATCHLIST_REMOVE"
    PROGRESS = "PROGRESS"


@strawberry.federation.interface_object(keys=["id"], description="A title (owned by the catalog).")
class Content:
    id: strawberry.ID

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Content:
        return cls(id=id)


@strawberry.type(description="A device signed in to the account.")
class Device:
    id: strawberry.ID
    name: str
    kind: DeviceKind
    capabilities: list[DeviceCapability]
    registered_at: datetime
    last_seen_at: datetime
    presence: DevicePresence

    @classmethod
    def from_record(cls, record: RegisteredDevice) -> Device:
        return cls(
            id=strawberry.ID(record.id),
            name=record.name,
            kind=DeviceKind(record.kind),
            capabilities=[DeviceCapability(c) for c in record.capabilities],
            registered_at=record.registered_at,
            last_seen_at=record.last_seen_at,
            presence=DevicePresence.ONLINE if record.online else DevicePresence.OFFLINE,
        )


@strawberry.type(description="A title on the watchlist and when it was added.")
class WatchlistEntry:
    content: Content | None
    added_at: datetime
    tags: list[strawberry.ID] = strawberry.field(
        description="The adds keeping the title in the replicated set: a device that removes "
        "it offline sends the tags it has seen as `observedTags`."
    )

    @classmethod
    def from_record(cls, record: SavedTitle) -> WatchlistEntry:
        return cls(
            content=Content(id=strawberry.ID(record.content_id)),
            added_at=record.added_at,
            tags=[strawberry.ID(t) for t in record.tags],
        )


@strawberry.type(description="A title on one of the account's profiles' watchlists.")
class ProfileWatchlistEntry:
    profile_id: strawberry.ID
    content: Content | None
    added_at: datetime

    @classmethod
    def from_record(cls, record: SavedTitle) -> ProfileWatchlistEntry:
        return cls(
            profile_id=strawberry.ID(record.profile_id),
            content=Content(id=strawberry.ID(record.content_id)),
            added_at=record.added_at,
        )


def _content(content_id: Any) -> Content | None:
    return Content(id=strawberry.ID(str(content_id))) if content_id else None


def _when(epoch: Any) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)


@strawberry.type(description="The replicated playback position of a title.")
class SyncedProgress:
    content: Content
    position_seconds: int
    duration_seconds: int | None
    state: str
    device_id: strawberry.ID
    hlc: str = strawberry.field(description="Hybrid logical clock of the winning write.")
    updated_at: datetime

    @classmethod
    def from_record(cls, record: ProgressRegister) -> SyncedProgress:
        return cls(
            content=Content(id=strawberry.ID(record.content_id)),
            position_seconds=record.position_seconds,
            duration_seconds=record.duration_seconds,
            state=record.state,
            device_id=strawberry.ID(record.device_id),
            hlc=record.hlc,
            updated_at=record.updated_at,
        )


@strawberry.type(description="A command sent to one of the viewer's devices.")
class RemoteCommand:
    id: strawberry.ID
    cursor: str = strawberry.field(description="Pass as `since` to resume after this event.")
    type: RemoteCommandType
    target_device_id: strawberry.ID
    from_device_id: strawberry.ID | None
    position_seconds: int | None
    volume: int | None
    content: Content | None
    issued_at: datetime
    expires_at: datetime

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> RemoteCommand:
        p = message["payload"]
        return cls(
            id=strawberry.ID(p["commandId"]),
            cursor=str(message["id"]),
            type=RemoteCommandType(p["type"]),
            target_device_id=strawberry.ID(p["targetDeviceId"]),
            from_device_id=strawberry.ID(p["fromDeviceId"]) if p.get("fromDeviceId") else None,
            position_seconds=p.get("positionSeconds"),
            volume=p.get("volume"),
            content=_content(p.get("contentId")),
            issued_at=_when(message["createdAt"]),
            expires_at=_when(message["expiresAt"]),
        )


@strawberry.type(description="A title added to or removed from the watchlist.")
class WatchlistChange:
    cursor: str
    content: Content
    in_watchlist: bool
    device_id: strawberry.ID | None
    hlc: str
    occurred_at: datetime

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> WatchlistChange:
        p = message["payload"]
        return cls(
            cursor=str(message["id"]),
            content=Content(id=strawberry.ID(p["contentId"])),
            in_watchlist=bool(p["inWatchlist"]),
            device_id=strawberry.ID(p["deviceId"]) if p.get("deviceId") else None,
            hlc=message["hlc"],
            occurred_at=_when(message["createdAt"]),
        )


@strawberry.type(description="A device came online or went offline.")
class DevicePresenceChange:
    cursor: str
    device_id: strawberry.ID
    presence: DevicePresence
    last_seen_at: datetime

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> DevicePresenceChange:
        p = message["payload"]
        return cls(
            cursor=str(message["id"]),
            device_id=strawberry.ID(p["deviceId"]),
            presence=DevicePresence.ONLINE if p["online"] else DevicePresence.OFFLINE,
            last_seen_at=datetime.fromisoformat(p["lastSeenAt"]),
        )


@strawberry.input(description="One change a device made while offline.")
class SyncOperationInput:
    id: strawberry.ID = strawberry.field(description="Unique per operation: replays are ignored.")
    type: SyncOperationType
    content_id: strawberry.ID
    hlc: str = strawberry.field(description="The device's hybrid logical clock timestamp.")
    position_seconds: int | None = None
    duration_seconds: int | None = None
    state: str | None = None
    observed_tags: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="For WATCHLIST_REMOVE: the title's tags the device had seen (from "
        "`WatchlistEntry.tags` and its own adds, whose tags are their operation ids); exactly "
        "those are removed, so an add it had not seen survives. Without it, the remove "
        "removes the adds ordered before it by the clock.",
    )


@strawberry.input(description="What a remote command asks; fields as the command needs them.")
class RemoteCommandInput:
    type: RemoteCommandType
    position_seconds: int | None = None
    volume: int | None = None
    content_id: strawberry.ID | None = None


@strawberry.type(description="The outcome of replaying a device's offline queue.")
class SyncResult:
    applied: int
    duplicates: int
    hlc: str = strawberry.field(description="The server clock: the device should observe it.")
    watchlist: list[WatchlistEntry]
    progress: list[SyncedProgress]


@strawberry.type(description="Everything a device needs after a gap, and where to resume.")
class SyncState:
    cursor: str = strawberry.field(description="Pass as `since` to subscriptions and here.")
    hlc: str
    watchlist: list[WatchlistEntry]
    progress: list[SyncedProgress]
    pending_commands: list[RemoteCommand]
    watchlist_changes: list[WatchlistChange]


def since_cursor(since: str | None, argument: str = "since") -> int | None:
    """A cursor a client passed back (BAD_USER_INPUT when it is not one)."""
    try:
        return parse_cursor(since)
    except InvalidCursor:
        raise bad_input("Invalid cursor.", argumentName=argument) from None


def client_error(exc: SyncError) -> ClientError:
    return ClientError(str(exc), exc.code)


def active_profile(info: Info) -> str:
    return profile_of(info.context.viewer)


async def visible(info: Info, ids: list[str]) -> set[str]:
    """The titles the active profile may see (a restricted profile sees no id above it)."""
    return await references.titles(info.context.database).visible(ids, info.context.viewer)


async def event_shown(info: Info, message: dict[str, Any], field: str = "contentId") -> bool:
    """Whether a real-time event may reach the subscriber's profile (by the title it names)."""
    content_id = message["payload"].get(field)
    titles = references.titles(info.context.database)
    return await titles.shown(str(content_id) if content_id else None, info.context.viewer)


def _owner(info: Info, user: User) -> tuple[str, str]:
    """The (account, profile) whose watchlist the viewer reads: its active profile's."""
    return str(user.id), profile_of(info.context.viewer)


@strawberry.federation.type(keys=["id"], description="A member account (owned by identity).")
class User:
    id: strawberry.ID

    @strawberry.federation.field(
        requires_scopes=READ,
        description="Titles the active profile saved for later, most recently added first.",
    )
    async def watchlist(self, info: Info) -> list[Content] | None:
        require_viewer(info.context, str(self.id))
        rows = await info.context.loaders.watchlists.load(_owner(info, self))
        shown = await visible(info, [r.content_id for r in rows])
        return [Content(id=strawberry.ID(r.content_id)) for r in rows if r.content_id in shown]

    @strawberry.federation.field(
        requires_scopes=READ,
        description="The active profile's watchlist with the time each title was added.",
    )
    async def watchlist_entries(self, info: Info) -> list[WatchlistEntry] | None:
        require_viewer(info.context, str(self.id))
        rows = await info.context.loaders.watchlists.load(_owner(info, self))
        shown = await visible(info, [r.content_id for r in rows])
        return [WatchlistEntry.from_record(r) for r in rows if r.content_id in shown]

    @strawberry.federation.field(
        requires_scopes=READ, description="Devices registered to the account."
    )
    async def devices(self, info: Info) -> list[Device] | None:
        require_viewer(info.context, str(self.id))
        rows = await info.context.loaders.devices.load(str(self.id))
        return [Device.from_record(r) for r in rows]

    @strawberry.federation.field(
        requires_scopes=[["accounts:read"]],
        description="Operators: the devices registered to the account.",
    )
    async def admin_devices(self, info: Info) -> list[Device] | None:
        rows = await info.context.loaders.devices.load(str(self.id))
        return [Device.from_record(r) for r in rows]

    @strawberry.federation.field(
        requires_scopes=[["accounts:support"]],
        description="Operators (a member's data export): every profile's watchlist, most "
        "recently added first.",
    )
    async def admin_watchlist(self, info: Info) -> list[ProfileWatchlistEntry] | None:
        rows = await info.context.watchlist.account_watchlist(str(self.id))
        return [ProfileWatchlistEntry.from_record(r) for r in rows]

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)
