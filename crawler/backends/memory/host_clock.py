"""The in-memory host clock: per-host delay and concurrency, shared by the loops of one process.

The caller brings the condition variable (a strategy's ``Sync``), so this module imports no
concurrency library. Delays are *reservations*: under the lock a worker books the host's next
start time, then sleeps outside the lock until it comes, so nobody polls and nobody holds the
lock while waiting. ``time.sleep`` yields under gevent's patching and releases the GIL on threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

# A waiter re-checks at least this often, in case a notify was lost (it never should be).
_WAIT_SLICE = 1.0


class MemoryHostClock:
    """``HostClock`` for loops that share one process (or one Manager server).

    Invariant: for each host, at most ``per_host`` acquires are outstanding, and two acquires
    return at least the host's delay apart (``delay``, raised per host by ``set_delay``).
    With no delay and no cap (the defaults) ``acquire`` and ``release`` return at once, without
    taking the lock.
    """

    def __init__(
        self,
        condition: Any,
        *,
        delay: float = 0.0,
        per_host: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cond = condition
        self._delay = delay
        self._per_host = per_host
        self._sleep = sleep
        self._clock = clock
        self._delays: dict[str, float] = {}
        self._next_start: dict[str, float] = {}
        self._active: dict[str, int] = {}
        # The fast path: nothing to enforce until a delay or a cap exists.
        self._idle = delay <= 0 and per_host is None

    def acquire(self, host: str) -> None:
        """Block until a request to ``host`` may start; the caller must ``release`` after it."""
        if self._idle:
            return
        cap = self._per_host
        with self._cond:
            if cap is not None:
                while self._active.get(host, 0) >= cap:
                    self._cond.wait(_WAIT_SLICE)
                self._active[host] = self._active.get(host, 0) + 1
            delay = self._delays.get(host, self._delay)
            now = self._clock()
            start = max(now, self._next_start.get(host, now))
            if delay > 0:
                self._next_start[host] = start + delay
        if start > now:
            self._sleep(start - now)

    def release(self, host: str) -> None:
        """One request to ``host`` is over: wake a worker waiting for its concurrency slot."""
        if self._per_host is None:
            return
        with self._cond:
            left = self._active.get(host, 0) - 1
            if left > 0:
                self._active[host] = left
            else:
                self._active.pop(host, None)
            self._cond.notify_all()

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise ``host``'s delay to ``seconds`` (from robots.txt); a smaller value is ignored."""
        if seconds <= max(self._delay, self._delays.get(host, 0.0)):
            return
        with self._cond:
            self._delays[host] = max(seconds, self._delays.get(host, 0.0))
            self._idle = False
