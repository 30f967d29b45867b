"""CPU budgets: the heavy steps of a new document run beside the event loop, within a time.

Parsing and validating a document the router has not seen, and planning an operation it has
not planned, cost CPU in proportion to the document (up to about a second for the largest the
limits admit). Run on the event loop, that work would stall every other request, `/health`
included. `CpuBudget` runs it on one worker thread instead (the loop keeps getting the
interpreter every switch interval) and waits at most `seconds` for it: a request whose step
is not done by then is refused with `OPERATION_TOO_COMPLEX`. A step that has started runs to
its end and its result is kept by the caller's cache, so the same document asked again costs
nothing; one that has not started yet is dropped. With one worker, a flood of new expensive
documents queues behind itself and is refused, while documents already seen are served from
the caches without waiting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class BudgetExceeded(Exception):
    """The step did not finish within its budget."""

    def __init__(self, step: str, seconds: float) -> None:
        super().__init__(f"{step} took longer than its budget of {seconds:g}s")
        self.step = step
        self.seconds = seconds


class CpuBudget:
    def __init__(self, seconds: float | None = 2.0, workers: int = 1) -> None:
        self.seconds = seconds
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="router-cpu"
        )

    async def run(
        self,
        step: str,
        work: Callable[[], T],
        on_late_result: Callable[[T], None] | None = None,
    ) -> T:
        """The result of `work()`, computed on the worker thread within the budget.

        `on_late_result` receives (on the event loop) the result of a step that finishes after
        its caller was refused, so that the work is not wasted."""
        loop = asyncio.get_running_loop()
        future = self._pool.submit(work)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future, loop=loop), self.seconds)
        except TimeoutError:
            if not future.cancel() and on_late_result is not None:

                def deliver(done: concurrent.futures.Future[T]) -> None:
                    if not done.cancelled() and done.exception() is None:
                        # the server may have stopped meanwhile: then nobody needs it
                        with contextlib.suppress(RuntimeError):
                            loop.call_soon_threadsafe(on_late_result, done.result())

                future.add_done_callback(deliver)
            raise BudgetExceeded(step, self.seconds or 0.0) from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
