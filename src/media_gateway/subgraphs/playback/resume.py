"""Where a viewer resumes a title, and when it counts as watched to the end."""

from __future__ import annotations

MIN_RESUME_SECONDS = 30
COMPLETION_RATIO = 0.95


def resume_point(position: int, duration: int | None, completed: bool) -> int:
    """Where to resume: nowhere under 30 s watched, nor once 95% or more was watched."""
    if completed or position < MIN_RESUME_SECONDS:
        return 0
    if duration and position >= COMPLETION_RATIO * duration:
        return 0
    return position


def is_complete(position: int, duration: int | None) -> bool:
    return bool(duration) and position >= COMPLETION_RATIO * (duration or 0)
