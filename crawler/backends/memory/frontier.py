"""The in-memory frontier: a FIFO (breadth-first) queue that knows when the crawl is over.

The caller brings the condition variable (``threading.Condition`` for threads, the same class
once gevent has patched it for greenlets), so this module imports no concurrency library.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from crawler.base import Request


class MemoryFrontier:
    """Frontier for loops that share one process.

    Invariant: finished when the queue is empty and nothing is in flight; ``pop`` waits while
    the queue is empty but some other loop may still push links.
    """

    def __init__(self, condition: Any, *, max_pages: int | None = None) -> None:
        self._cond = condition
        self._queue: deque[Request] = deque()
        self._in_flight = 0
        self._accepted = 0
        self._budget = max_pages
        self._closed = False

    def push_many(self, requests: Iterable[Request]) -> int:
        """Queue requests up to the ``max_pages`` budget; return how many were accepted."""
        with self._cond:
            if self._closed:
                return 0
            before = len(self._queue)
            if self._budget is None:
                self._queue.extend(requests)
            else:
                for request in requests:
                    if self._accepted + len(self._queue) - before >= self._budget:
                        break
                    self._queue.append(request)
            added = len(self._queue) - before
            self._accepted += added
            if added:
                self._cond.notify_all()
            return added

    def pop(self) -> Request | None:
        """Next request; waits while others are in flight; None when finished or closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if self._queue:
                    self._in_flight += 1
                    return self._queue.popleft()
                if self._in_flight == 0:
                    return None
                self._cond.wait()

    def done(self, request: Request) -> None:
        """Mark one popped request finished."""
        with self._cond:
            self._in_flight -= 1
            if self._in_flight == 0 and not self._queue:
                self._cond.notify_all()

    def close(self) -> None:
        """Hand out nothing more; queued requests stay queued but are not popped."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def snapshot(self) -> dict[str, int]:
        """Counts for progress and health: queued, in flight, scheduled in total."""
        with self._cond:
            return {
                "queued": len(self._queue),
                "in_flight": self._in_flight,
                "scheduled": self._accepted,
            }
