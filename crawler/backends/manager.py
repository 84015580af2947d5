"""Politeness state shared by the pool children of the processes strategy: the per-host clock
and the robots.txt cache live in the manager process; children reach them through the clients
below.

A manager call blocks the whole calling process (a multiprocessing connection reads its socket
with ``os.read``, which gevent does not make cooperative). So nothing hosted here ever waits:
the clock hands out *reservations* (how long to wait), and the clients do the
waiting in the child with ``time.sleep``, which yields to the child's other greenlets once
gevent has patched it. Otherwise a greenlet waiting for a host would freeze the whole child.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from crawler.config import CrawlConfig
from crawler.politeness.schedule import HostSchedule, Pace

POLL_S = 0.02  # how often a client re-asks for a full host slot or a robots.txt entry


class HostedHostClock:
    """The server side of the shared ``HostClock``: the children's view of the crawl's host
    schedule (same rules as ``MemoryHostClock``).

    The parent hands pages out on a schedule of its own (its frontier's); what children book
    beyond that (robots.txt, retries, a Crawl-delay, the auto-throttle) is collected here and
    taken by the parent (``take_updates``, one call per dispatch round), so both stay on one
    host timeline.

    Invariant: reserved start times on one host are at least the host's delay apart.
    """

    def __init__(self, config: CrawlConfig) -> None:
        self._lock = threading.Lock()  # the manager serves each connection on its own thread
        self._schedule = HostSchedule(Pace.of(config))
        self._changed: set[str] = set()

    def try_acquire(self, host: str, granted: bool = False, ended: float | None = None) -> float:
        """Reserve a start for ``host``: seconds to wait before it (``ended``: when the
        caller's previous request to ``host`` ended, ``time.monotonic``)."""
        with self._lock:
            now = time.monotonic()
            if ended is not None:
                self._schedule.end(host, ended)
            start = self._schedule.book(host, now, granted=granted)
            if not granted:
                self._changed.add(host)
            return start - now

    def release(self, host: str) -> None:
        """A request to ``host`` is over (the parent's frontier caps pages per host)."""

    def set_delay(self, host: str, seconds: float) -> float:
        """Raise ``host``'s delay (robots.txt ``Crawl-delay``), capped; return it."""
        with self._lock:
            if not host:
                return 0.0
            self._changed.add(host)
            return self._schedule.set_delay(host, seconds, time.monotonic())

    def observe(
        self, host: str, latency: float, status: int | None, retry_after: float | None
    ) -> None:
        """Feed one response to the auto-throttle."""
        with self._lock:
            self._schedule.observe(host, time.monotonic(), latency, status, retry_after)
            self._changed.add(host)

    def take_updates(self) -> dict[str, tuple[float, float, bool]]:
        """``host -> (next free start, delay, robots.txt answered)`` for the hosts booked,
        slowed or answered since the last call (``time.monotonic`` is one clock for every
        process of the machine)."""
        with self._lock:
            changed, self._changed = self._changed, set()
            schedule = self._schedule
            return {
                host: (schedule.ready_at(host), schedule.delay(host), schedule.opened(host))
                for host in changed
            }


class HostClockClient:
    """``HostClock`` for a pool child, over a ``HostedHostClock`` proxy.

    With no delay and no auto-throttle (the defaults) it makes no call at all until robots.txt
    sets a ``Crawl-delay``: every worker reads a host's robots.txt before its first page there,
    so each process learns the delay before it would need it.
    """

    def __init__(self, proxy: Any, config: CrawlConfig) -> None:
        self._proxy = proxy
        self._throttled = config.auto_throttle
        self._robots = config.robots
        self._idle = config.delay <= 0 and not self._throttled
        self._slowed: set[str] = set()  # hosts whose Crawl-delay this process set
        self._ended: dict[str, float] = {}  # host -> when a request to it last ended here

    def acquire(self, host: str, granted: bool = False) -> None:
        """Wait (here, cooperatively) until a request to ``host`` may start."""
        if self._idle:
            return
        if granted and not self._throttled and host not in self._slowed:
            # The parent handed the page out a delay after the end of the host's previous one
            # (a host with a delay has one page out at a time): no call to make.
            return
        wait = self._proxy.try_acquire(host, granted, self._ended.get(host))
        if wait > 0:
            time.sleep(wait)

    def release(self, host: str) -> None:
        """The request to ``host`` ended: a retry keeps the delay from now (pages are capped
        by the parent)."""
        if not self._idle:
            self._ended[host] = time.monotonic()

    def set_delay(self, host: str, seconds: float) -> float:
        """Raise ``host``'s delay for every process. With robots.txt obeyed a host's answer
        with no delay is passed on too (once per host and process): the parent then puts
        more than its first page out (``HostSchedule.full``)."""
        if seconds <= 0:
            if self._robots:
                self._proxy.set_delay(host, 0.0)
            return 0.0
        self._idle = False
        self._slowed.add(host)
        return self._proxy.set_delay(host, seconds)

    def observe(
        self, host: str, latency: float, status: int | None, retry_after: float | None
    ) -> None:
        """Feed one response to the crawl's auto-throttle (only when it is on)."""
        if self._throttled:
            self._proxy.observe(host, latency, status, retry_after)


class RobotsCacheClient:
    """``RobotsCache`` for a pool child, over a proxy of the backend's cache: ``wait`` polls
    here instead of blocking in the manager (the fetching worker may be a greenlet of this
    very process)."""

    def __init__(self, proxy: Any) -> None:
        self._proxy = proxy

    def get(self, origin: str) -> tuple[str, str] | None:
        """The stored entry, or None."""
        return self._proxy.get(origin)

    def claim(self, origin: str) -> bool:
        """True for exactly one caller per origin, across all processes."""
        return self._proxy.claim(origin)

    def put(self, origin: str, entry: tuple[str, str]) -> None:
        """Store the entry for every process."""
        self._proxy.put(origin, entry)

    def release(self, origin: str) -> None:
        """Give up a claim without an entry, for every process."""
        self._proxy.release(origin)

    def wait(self, origin: str, timeout: float) -> tuple[str, str] | None:
        """Poll for the entry for up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while (entry := self._proxy.get(origin)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(POLL_S, left))
        return entry
