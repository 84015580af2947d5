"""The embedded default: frontier and visited set in this process's memory."""

from __future__ import annotations

from crawler.base import Frontier, Sync, Visited
from crawler.config import CrawlConfig
from crawler.frontier import MemoryFrontier
from crawler.visited import MemoryVisited


class MemoryBackend:
    """In-process state; nothing to install, nothing to connect to."""

    name = "memory"
    shared = False

    def open(self, config: CrawlConfig, sync: Sync) -> tuple[Frontier, Visited]:
        """A fresh frontier and visited set guarded by the strategy's primitives."""
        frontier = MemoryFrontier(sync.condition(), max_pages=config.max_pages)
        return frontier, MemoryVisited(sync.lock())

    def close(self) -> None:
        """Nothing to release."""
