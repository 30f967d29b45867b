"""The replicated data types of sync, as pure functions over operations.

- The watchlist is an observed-remove set (OR-Set). Every add creates a unique tag (its
  operation id) for its title. A remove carries the tags its device had observed for the
  title and removes exactly those: an add the remover had not seen (a concurrent add, on
  another device or arriving later) keeps the title in the set. The state is the set of
  (title, tag) adds minus the removed tags (tombstones); a tombstone may arrive before its
  add, so state only depends on *which* operations arrived, never on their order or on
  duplicates.

  A remove that does not say what it observed (``observed_tags is None``: clients from
  before tags were exposed) observes the adds of that title ordered before it by the hybrid
  logical clock: what a device that had seen everything up to then would have observed.
  That is kept as a per-title horizon (the latest such remove's timestamp), which merges by
  maximum and so converges as well.
- Playback progress per title is a last-writer-wins register ordered by the same clock
  (timestamps are unique per device, so there are no ties).

``watchlist_set.py`` and ``progress.py`` apply the same rules to sync's tables; these
functions are the reference the property-based tests check convergence on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

WATCHLIST_ADD = "WATCHLIST_ADD"
WATCHLIST_REMOVE = "WATCHLIST_REMOVE"
PROGRESS = "PROGRESS"
OPERATION_TYPES = (WATCHLIST_ADD, WATCHLIST_REMOVE, PROGRESS)
MAX_OBSERVED_TAGS = 1000
# the tag of a title saved before the watchlist was a replicated set: added at the origin
ORIGIN_TAG = "origin"


@dataclass(frozen=True)
class Operation:
    id: str
    type: str
    content_id: str
    hlc: str
    device_id: str = ""
    position_seconds: int | None = None
    duration_seconds: int | None = None
    state: str | None = None
    # for a remove: the add tags its device had observed for the title (None: by the clock)
    observed_tags: frozenset[str] | None = None


@dataclass(frozen=True)
class AddTag:
    """One add of a title: its tag is the id of the operation that made it."""

    content_id: str
    hlc: str
    device_id: str = ""


@dataclass(frozen=True)
class ProgressValue:
    hlc: str
    position_seconds: int
    duration_seconds: int | None
    state: str
    device_id: str


@dataclass
class ReplicaState:
    seen: set[str] = field(default_factory=set)
    adds: dict[str, AddTag] = field(default_factory=dict)  # tag -> add
    tombstones: set[tuple[str, str]] = field(default_factory=set)  # (title, tag) removed
    horizons: dict[str, str] = field(default_factory=dict)  # title -> removes adds before
    progress: dict[str, ProgressValue] = field(default_factory=dict)

    def live_tags(self, content_id: str) -> frozenset[str]:
        return frozenset(
            tag
            for tag, add in self.adds.items()
            if add.content_id == content_id
            and is_live(tag, add, self.tombstones, self.horizons.get(content_id))
        )

    def watchlist(self) -> frozenset[str]:
        return frozenset(
            add.content_id
            for tag, add in self.adds.items()
            if is_live(tag, add, self.tombstones, self.horizons.get(add.content_id))
        )


def is_live(tag: str, add: AddTag, tombstones: set[tuple[str, str]], horizon: str | None) -> bool:
    """An add counts unless a remove observed it (by tag, or by the clock horizon)."""
    if (add.content_id, tag) in tombstones:
        return False
    return horizon is None or add.hlc > horizon


def later(current: str | None, candidate: str) -> bool:
    return current is None or candidate > current


def apply(state: ReplicaState, op: Operation) -> bool:
    """Apply one operation; False when it was already applied (idempotence by id)."""
    if op.id in state.seen:
        return False
    state.seen.add(op.id)
    if op.type == WATCHLIST_ADD:
        state.adds[op.id] = AddTag(op.content_id, op.hlc, op.device_id)
    elif op.type == WATCHLIST_REMOVE:
        if op.observed_tags is None:
            if later(state.horizons.get(op.content_id), op.hlc):
                state.horizons[op.content_id] = op.hlc
        else:
            state.tombstones.update((op.content_id, tag) for tag in op.observed_tags)
    elif op.type == PROGRESS:
        current = state.progress.get(op.content_id)
        if later(current.hlc if current else None, op.hlc):
            state.progress[op.content_id] = ProgressValue(
                op.hlc,
                op.position_seconds or 0,
                op.duration_seconds,
                op.state or "PAUSED",
                op.device_id,
            )
    return True


def replay(operations: Iterable[Operation], state: ReplicaState | None = None) -> ReplicaState:
    state = state or ReplicaState()
    for op in operations:
        apply(state, op)
    return state


def merge(a: ReplicaState, b: ReplicaState) -> ReplicaState:
    """The join of two replicas (commutative, associative, idempotent)."""
    out = ReplicaState(
        seen=a.seen | b.seen,
        adds={**a.adds, **b.adds},  # a tag is one operation: the same add on both sides
        tombstones=a.tombstones | b.tombstones,
    )
    for source in (a, b):
        for c, hlc in source.horizons.items():
            if later(out.horizons.get(c), hlc):
                out.horizons[c] = hlc
        for c, value in source.progress.items():
            current = out.progress.get(c)
            if later(current.hlc if current else None, value.hlc):
                out.progress[c] = value
    return out
