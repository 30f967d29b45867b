"""Garbage-collector settings for long-running services.

A service builds most of its objects at start-up (schemas, query plans, the catalog's
indexes and the recommendation models in the embedded process) and keeps them for its life.
CPython's full collections scan every tracked object each time; with that heap they paused
the embedded process for 300-480 ms every half minute or so under load, stalling every
request and subscription event in flight (measured with bench/subscriptions.py). Moving
what exists once start-up is done into the permanent generation (``gc.freeze``) takes it out
of those scans. Collections then run less often (larger thresholds): most of what requests
allocate is freed by reference counting, and fewer, larger young collections cost less in
all than many small ones, while full scans of what has accumulated since start-up become
rare.
"""

from __future__ import annotations

import gc

# young collections after this many net allocations (CPython: 700), older ones less often
GC_THRESHOLDS = (10_000, 10, 10)


def freeze_startup_heap() -> None:
    """Call once the service has started: collect start-up garbage, freeze the rest."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
