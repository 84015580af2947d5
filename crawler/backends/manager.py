"""Politeness state shared by the pool children of the processes strategy: the per-host clock
and the robots.txt cache live in the manager process; children reach them through the clients
below.

A manager call blocks the whole calling process (a multiprocessing connection reads its socket
with ``os.read``, which gevent does not make cooperative). So nothing hosted here ever waits:
the clock hands out *reservations* (how long to wait) or says "full", and the clients do the
waiting in the child with ``time.sleep``, which yields to the child's other greenlets once
gevent has patched it. Otherwise a greenlet waiting for a host slot would freeze the very
greenlet holding that slot.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from crawler.config import CrawlConfig

POLL_S = 0.02  # how often a client re-asks for a full host slot or a robots.txt entry


class HostedHostClock:
    """The server side of the shared ``HostClock``; same rules as ``MemoryHostClock``.

    Invariant: per host, at most ``per_host`` reservations are outstanding, and reserved start
    times are at least the host's delay apart.
    """

    def __init__(self, config: CrawlConfig) -> None:
        self._lock = threading.Lock()  # the manager serves each connection on its own thread
        self._delay = config.delay
        self._per_host = config.per_host
        self._delays: dict[str, float] = {}
        self._next_start: dict[str, float] = {}
        self._active: dict[str, int] = {}

    def try_acquire(self, host: str) -> float | None:
        """Reserve a start for ``host``: seconds to wait before it, or None when the host's
        concurrency cap is reached (ask again later)."""
        with self._lock:
            if self._per_host is not None:
                if self._active.get(host, 0) >= self._per_host:
                    return None
                self._active[host] = self._active.get(host, 0) + 1
            delay = self._delays.get(host, self._delay)
            now = time.monotonic()
            start = max(now, self._next_start.get(host, now))
            if delay > 0:
                self._next_start[host] = start + delay
            return start - now

    def release(self, host: str) -> None:
        """A request to ``host`` is over."""
        with self._lock:
            left = self._active.get(host, 0) - 1
            if left > 0:
                self._active[host] = left
            else:
                self._active.pop(host, None)

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise ``host``'s delay (robots.txt ``Crawl-delay``); never lowers it."""
        with self._lock:
            if seconds > max(self._delay, self._delays.get(host, 0.0)):
                self._delays[host] = seconds


class HostClockClient:
    """``HostClock`` for a pool child, over a ``HostedHostClock`` proxy.

    With no delay and no cap (the defaults) it makes no call at all until robots.txt sets a
    ``Crawl-delay``: every worker reads a host's robots.txt before its first page there, so
    each process learns the delay before it would need it.
    """

    def __init__(self, proxy: Any, config: CrawlConfig) -> None:
        self._proxy = proxy
        self._capped = config.per_host is not None
        self._idle = config.delay <= 0 and not self._capped

    def acquire(self, host: str) -> None:
        """Wait (here, cooperatively) until a request to ``host`` may start."""
        if self._idle:
            return
        while (wait := self._proxy.try_acquire(host)) is None:
            time.sleep(POLL_S)
        if wait > 0:
            time.sleep(wait)

    def release(self, host: str) -> None:
        """The request to ``host`` is over."""
        if not self._idle:
            self._proxy.release(host)

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise ``host``'s delay for every process."""
        if seconds > 0:
            # Acquires made while idle were not counted: only caps need release to match, and
            # a capped clock is never idle.
            self._idle = False
            self._proxy.set_delay(host, seconds)


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
