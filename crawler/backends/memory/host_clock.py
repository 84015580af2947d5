"""The in-memory host clock: the crawl's ``HostSchedule`` as seen by the loops of one process.

The frontier enforces politeness when it hands a page out (a host's delay and ``per_host``
cap); the clock is what a loop asks before each request it sends, so that a request the
frontier did not plan (robots.txt, a retry) takes the host's next free start, and a planned one
sent late still keeps its distance. The caller brings the condition variable (a strategy's
``Sync``; the frontier's, when both share a schedule), so this module imports no concurrency
library. Bookings are *reservations*: made under the lock, slept outside it. ``time.sleep``
yields under gevent's patching and releases the GIL on threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from crawler.politeness.schedule import HostSchedule, Pace


class MemoryHostClock:
    """``HostClock`` for loops that share one process (or one Manager server).

    Invariant: two requests to one host start at least the host's delay apart (``delay``,
    raised per host by ``set_delay``). With no delay (the default) ``acquire`` returns at once,
    without taking the lock. Concurrency per host is the frontier's to cap.
    """

    def __init__(
        self,
        condition: Any,
        *,
        delay: float = 0.0,
        per_host: int | None = None,
        schedule: HostSchedule | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cond = condition
        if schedule is None:
            schedule = HostSchedule(Pace(delay=delay, per_host=per_host))
        self.schedule = schedule
        self._sleep = sleep
        self._clock = clock

    def acquire(self, host: str, granted: bool = False) -> None:
        """Block until a request to ``host`` may start. ``granted``: the first request of a
        page the frontier handed out (its start was booked then)."""
        schedule = self.schedule
        if not schedule.timed:
            return
        with self._cond:
            now = self._clock()
            start = schedule.book(host, now, granted=granted)
        if start > now:
            self._sleep(start - now)

    def free(self, host: str, granted: bool = False) -> bool:
        """True when ``acquire(host, granted)`` would return at once: no delay anywhere."""
        return not self.schedule.timed

    def release(self, host: str) -> None:
        """The request to ``host`` is over: its next start keeps the delay from now (a retry
        or a page's request after its robots.txt; the frontier frees the page at ``done``)."""
        schedule = self.schedule
        if not schedule.timed:
            return
        with self._cond:
            schedule.end(host, self._clock())

    def set_delay(self, host: str, seconds: float) -> float:
        """Raise ``host``'s delay to ``seconds`` (robots.txt), capped; return the delay."""
        with self._cond:
            return self.schedule.set_delay(host, seconds, self._clock())

    def observe(
        self, host: str, latency: float, status: int | None, retry_after: float | None
    ) -> None:
        """Feed one response to the auto-throttle (a no-op unless it is on)."""
        if not self.schedule.pace.auto_throttle:
            return
        with self._cond:
            self.schedule.observe(host, self._clock(), latency, status, retry_after)

    def merge(self, updates: dict[str, tuple[float, float, bool]]) -> None:
        """Apply what another process's clock booked: ``host -> (next start, delay, robots.txt
        answered)``."""
        if not updates:
            return
        with self._cond:
            for host, (until, delay, answered) in updates.items():
                self.schedule.raise_delay(host, delay)
                self.schedule.defer(host, until)
                if answered:
                    self.schedule.open(host)
