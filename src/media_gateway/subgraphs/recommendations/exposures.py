"""What members were shown and what they did: exposures, outcomes and playback events.

An exposure is a recommendation served under an experiment variant; it is queued on the
request and written in batches off the request path. An outcome (click, play, finish) is
logged for every experiment that showed the title to the member. Playback events teach the
recommender: a finished, substantially watched or abandoned title becomes an interaction
graded by ``feedback.playback_weight``; a member's ratings and dislikes become explicit ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert
from sqlmodel import select

from media_gateway.auth.profiles import DEFAULT_PROFILE
from media_gateway.platform.events import Event
from media_gateway.storage.database import Database
from media_gateway.subgraphs.recommendations.experiments import OUTCOME_KINDS, ExperimentError
from media_gateway.subgraphs.recommendations.feedback import (
    DISLIKE_WEIGHT,
    RATING_SOURCE,
    playback_weight,
    rating_weight,
)
from media_gateway.subgraphs.recommendations.models import (
    ExposureRecord,
    InteractionRecord,
    OutcomeRecord,
)

log = logging.getLogger(__name__)

EXPOSURE_FLUSH_SECONDS = 0.5  # served recommendations are written in batches off the request
MAX_PENDING_EXPOSURES = 50_000
SEEN_EVENTS = 10_000  # the same event may come from the bus and from Kafka


class ExposureService:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._exposures: list[dict[str, Any]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()

    # -- exposure log (batched, written off the request path) --------------------------------
    def queue(self, rows: Iterable[dict[str, Any]]) -> None:
        """Exposure rows (``ExposureRecord`` columns) to write soon."""
        self._exposures.extend(rows)
        if len(self._exposures) > MAX_PENDING_EXPOSURES:  # storage is down: keep the newest
            dropped = len(self._exposures) - MAX_PENDING_EXPOSURES
            del self._exposures[:dropped]
            log.warning("dropped unwritten exposures", extra={"exposures": dropped})
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(EXPOSURE_FLUSH_SECONDS)
        try:
            await self.flush_exposures()
        except Exception:  # kept in the queue; the next batch tries again
            log.exception("writing recommendation exposures failed")

    async def flush_exposures(self) -> int:
        """Write every queued exposure (one transaction); readers of exposures call this."""
        async with self._flush_lock:
            rows, self._exposures = self._exposures, []
            if not rows:
                return 0
            try:
                async with self.database.transaction() as session:
                    connection = await session.connection()
                    for start in range(0, len(rows), 2000):
                        await connection.execute(insert(ExposureRecord), rows[start : start + 2000])
            except BaseException:
                self._exposures[:0] = rows
                raise
        return len(rows)

    async def close(self) -> None:
        """Stop background work and write what is still queued."""
        task = self._flushing
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            await self.flush_exposures()
        except Exception:
            log.exception("writing recommendation exposures at shutdown failed")

    # -- outcomes -----------------------------------------------------------------------------
    async def record_outcome(
        self, user_id: str, content_id: str, kind: str, *, quiet: bool = False
    ) -> int:
        """Log ``kind`` for every experiment that showed ``content_id`` to the member."""
        if kind not in OUTCOME_KINDS:
            raise ExperimentError(f"Unknown outcome {kind!r}.")
        await self.flush_exposures()
        async with self.database.transaction() as session:
            exposed = (
                await session.exec(
                    select(ExposureRecord.experiment_id, ExposureRecord.variant)
                    .where(
                        ExposureRecord.user_id == user_id,
                        ExposureRecord.content_id == content_id,
                    )
                    .distinct()
                )
            ).all()
            for experiment_id, variant in exposed:
                session.add(
                    OutcomeRecord(
                        experiment_id=experiment_id,
                        variant=variant,
                        user_id=user_id,
                        content_id=content_id,
                        kind=kind,
                    )
                )
        if not exposed and not quiet:
            log.debug("outcome without exposure", extra={"kind": kind})
        return len(exposed)

    # -- learning from playback ---------------------------------------------------------------
    async def record(self, rows: Sequence[InteractionRecord]) -> None:
        async with self.database.transaction() as session:
            session.add_all(rows)

    async def record_feedback(
        self, user_id: str, profile_id: str, content_id: str, stars: float | None
    ) -> float:
        """A rating (1 to 5 stars) or, with ``stars=None``, a dislike of a title by a
        viewing profile; returns its weight (``FeedbackError`` for a rating out of range)."""
        weight = DISLIKE_WEIGHT if stars is None else rating_weight(stars)
        await self.record(
            [
                InteractionRecord(
                    user_id=user_id,
                    profile_id=profile_id,
                    content_id=content_id,
                    weight=weight,
                    source=RATING_SOURCE,
                )
            ]
        )
        return weight

    async def on_playback_event(self, event: Event) -> None:
        """Learn from finished, substantially watched and abandoned playbacks; log experiment
        outcomes."""
        payload = event.payload
        kind = payload.get("type")
        key = f"{payload.get('sessionId')}:{kind}:{payload.get('occurredAt')}"
        if key in self._seen_events:  # the same event from the bus and from Kafka
            return
        self._seen_events[key] = None
        while len(self._seen_events) > SEEN_EVENTS:
            self._seen_events.popitem(last=False)
        user_id, content_id = payload.get("userId"), payload.get("contentId")
        if not user_id or not content_id:
            return
        if kind == "started":
            await self.record_outcome(str(user_id), str(content_id), "play", quiet=True)
            return
        if kind != "ended":
            return
        position = int(payload.get("positionSeconds") or 0)
        completed = bool(payload.get("completed"))
        weight = playback_weight(completed, position)
        if weight is None:
            return
        await self.record(
            [
                InteractionRecord(
                    user_id=str(user_id),
                    profile_id=str(payload.get("profileId") or DEFAULT_PROFILE),
                    content_id=str(content_id),
                    weight=weight,
                    source="playback",
                )
            ]
        )
        if completed:
            await self.record_outcome(str(user_id), str(content_id), "finish", quiet=True)
