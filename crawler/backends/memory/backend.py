"""The embedded default: frontier and visited set in this process's memory."""

from __future__ import annotations

from crawler.backends.memory.frontier import MemoryFrontier
from crawler.backends.memory.host_clock import MemoryHostClock
from crawler.backends.memory.robots_cache import MemoryRobotsCache
from crawler.backends.memory.visited import MemoryVisited
from crawler.base import Frontier, HostClock, RobotsCache, Sync, Visited
from crawler.config import CrawlConfig


class MemoryBackend:
    """In-process state; nothing to install, nothing to connect to."""

    name = "memory"
    shared = False
    durable = False

    def frontier(self, config: CrawlConfig, sync: Sync) -> Frontier:
        """A FIFO frontier guarded by the strategy's condition variable."""
        return MemoryFrontier(sync.condition(), max_pages=config.max_pages)

    def visited(self, config: CrawlConfig, sync: Sync) -> Visited:
        """A fingerprint set guarded by the strategy's lock."""
        return MemoryVisited(sync.lock())

    def record_sink(self, config: CrawlConfig) -> None:
        """Records live only in the user's sinks."""
        return None

    def host_clock(self, config: CrawlConfig, sync: Sync) -> HostClock:
        """Per-host delay and concurrency, guarded by the strategy's condition variable."""
        return MemoryHostClock(sync.condition(), delay=config.delay, per_host=config.per_host)

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> RobotsCache:
        """robots.txt entries per origin, guarded by the strategy's condition variable."""
        return MemoryRobotsCache(sync.condition())

    def close(self) -> None:
        """Nothing to release."""
