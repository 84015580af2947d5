"""The embedded default: frontier and visited set in this process's memory."""

from __future__ import annotations

from typing import Any

from crawler.backends.memory.frontier import MemoryFrontier
from crawler.backends.memory.host_clock import MemoryHostClock
from crawler.backends.memory.robots_cache import MemoryRobotsCache
from crawler.backends.memory.visited import MemoryVisited
from crawler.base import Frontier, HostClock, RobotsCache, Sync, Visited
from crawler.config import CrawlConfig
from crawler.politeness.schedule import HostSchedule, Pace


class SharedSchedule:
    """One ``HostSchedule`` per crawl and the condition guarding it, made by whichever of the
    frontier and the host clock is built first: both must book on the same host timeline."""

    def __init__(self) -> None:
        self._made: tuple[HostSchedule, Any] | None = None

    def get(self, config: CrawlConfig, sync: Sync) -> tuple[HostSchedule, Any]:
        """The crawl's schedule and its condition variable."""
        if self._made is None:
            self._made = (HostSchedule(Pace.of(config)), sync.condition())
        return self._made

    def __getstate__(self) -> dict[str, Any]:
        # A copy in another process (the processes strategy's manager) builds its own.
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._made = None


class MemoryBackend:
    """In-process state; nothing to install, nothing to connect to."""

    name = "memory"
    shared = False
    durable = False
    claims_in_visited = True  # MemoryVisited: check-and-add in one step, nothing removed

    def __init__(self) -> None:
        self._schedule = SharedSchedule()
        self._frontiers: list[MemoryFrontier] = []  # closed with the backend: spill files go

    def __getstate__(self) -> dict[str, Any]:
        # A copy in another process (the processes strategy's manager) holds no frontier.
        return {"_schedule": self._schedule}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._schedule = state["_schedule"]
        self._frontiers = []

    def frontier(self, config: CrawlConfig, sync: Sync) -> Frontier:
        """Queues per host in their ready order, guarded by the strategy's condition; past
        their share of ``--memory-limit``, on disk. A ``dispatcher`` sync (a processes parent)
        keeps no loop on its last host (``MemoryFrontier``'s ``keep_hosts``)."""
        schedule, condition = self._schedule.get(config, sync)
        frontier = MemoryFrontier(
            condition,
            keep_hosts=not getattr(sync, "dispatcher", False),
            max_pages=config.max_pages,
            schedule=schedule,
            max_pages_per_host=config.max_pages_per_host,
            spill_above=queue_bound(config.memory_limit),
        )
        self._frontiers.append(frontier)
        return frontier

    def visited(self, config: CrawlConfig, sync: Sync) -> Visited:
        """A fingerprint set guarded by the strategy's lock."""
        return MemoryVisited(sync.lock())

    def record_sink(self, config: CrawlConfig) -> None:
        """Records live only in the user's sinks."""
        return None

    def host_clock(self, config: CrawlConfig, sync: Sync) -> HostClock:
        """The frontier's host schedule, for the requests the loops send."""
        schedule, condition = self._schedule.get(config, sync)
        return MemoryHostClock(condition, schedule=schedule)

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> RobotsCache:
        """robots.txt entries per origin, guarded by the strategy's condition variable."""
        return MemoryRobotsCache(sync.condition())

    def close(self) -> None:
        """Release the frontiers: their spill files, if any, are deleted."""
        for frontier in self._frontiers:
            frontier.release()
        self._frontiers.clear()


def queue_bound(memory_limit: int | None) -> int | None:
    """The bytes of queued requests kept in memory under ``memory_limit``: half of it. The
    other half is for what cannot spill (the visited set, ~16 bytes per URL; the URL caches;
    the interpreter and the pages in flight)."""
    return None if not memory_limit else max(1, memory_limit // 2)
