"""Stopping a running crawl from outside it (``Crawler.stop``: an early ``break``, a caller's
deadline), without any strategy knowing about it.

The engine hands strategies a backend wrapped in ``StoppableBackend``; every frontier a
strategy builds through it is remembered, and ``stop`` closes them all. Closing the frontier is
the one stop signal every strategy already honours (the ``Frontier`` seam promises that ``pop``
returns None once closed, waking waiting loops): workers finish the page in hand, find nothing
more to pop, and the strategy returns as it does at the natural end of a crawl.
"""

from __future__ import annotations

from typing import Any

from crawler.base import Backend, Frontier, HostClock, RobotsCache, Sync, Visited
from crawler.config import CrawlConfig


def _unwrapped(backend: Backend) -> Backend:
    return backend


class StoppableBackend:
    """A backend that remembers the frontiers it builds, so that ``stop`` can close them.

    Safe to call ``stop`` from any thread or greenlet, before, during or after the crawl: a
    frontier built after ``stop`` is closed at once. Everything else is the wrapped backend's.
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._frontiers: list[Frontier] = []
        self.stopped = False

    def frontier(self, config: CrawlConfig, sync: Sync) -> Frontier:
        """The wrapped backend's frontier, remembered (closed at once if already stopped)."""
        frontier = self._backend.frontier(config, sync)
        self._frontiers.append(frontier)
        # Order matters against a concurrent ``stop`` (which sets the flag, then reads the
        # list): either it sees this frontier, or this sees the flag.
        if self.stopped:
            frontier.close()
        return frontier

    def visited(self, config: CrawlConfig, sync: Sync) -> Visited:
        """The wrapped backend's visited set."""
        return self._backend.visited(config, sync)

    def host_clock(self, config: CrawlConfig, sync: Sync) -> HostClock:
        """The wrapped backend's per-host politeness clock."""
        return self._backend.host_clock(config, sync)

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> RobotsCache:
        """The wrapped backend's robots.txt cache."""
        return self._backend.robots_cache(config, sync)

    def snapshot(self) -> dict[str, int]:
        """Queued, in-flight, skipped and spilled counts over this crawl's frontiers (zeros
        before any; a shared backend's are crawl-wide, so they are taken once, not summed)."""
        totals = {"queued": 0, "in_flight": 0, "skipped": 0, "spilled": 0}
        for frontier in list(self._frontiers):
            counts = frontier.snapshot()
            if self._backend.shared:
                return {key: counts.get(key, 0) for key in totals}
            for key in totals:
                totals[key] += counts.get(key, 0)
        return totals

    def stop(self) -> None:
        """Close every frontier of this crawl: no new page starts anywhere."""
        self.stopped = True
        for frontier in list(self._frontiers):
            frontier.close()

    def close(self) -> None:
        """Release the wrapped backend."""
        self._backend.close()

    def __getattr__(self, name: str) -> Any:
        # name, shared and anything a backend adds for its strategies pass through.
        if name.startswith("__") or name in ("_backend", "_frontiers"):
            raise AttributeError(name)
        return getattr(self._backend, name)

    def __reduce__(self) -> tuple[Any, ...]:
        # A strategy that ships the backend to child processes ships the real one: stopping
        # is the parent's business, done by closing the frontier the parent holds.
        return (_unwrapped, (self._backend,))
