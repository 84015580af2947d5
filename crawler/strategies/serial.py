"""Serial: one worker loop, inline, on the calling thread. The baseline every mode is measured
against, and the simplest reading of the crawl logic."""

from __future__ import annotations

import os

from crawler.base import CrawlJob, Emit
from crawler.frontier import MemoryFrontier
from crawler.visited import MemoryVisited
from crawler.worker import Worker


class _NoLock:
    """Serial mode has one loop: no lock, and ``wait`` never happens (nothing else is in flight)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    def notify_all(self) -> None:
        return None

    def wait(self) -> None:  # pragma: no cover - unreachable with one loop
        raise RuntimeError("serial frontier waited with nothing in flight")


class SerialStrategy:
    """One loop, no concurrency."""

    name = "serial"

    def run(self, job: CrawlJob, consume: Emit) -> None:
        """Crawl inline; records go straight to ``consume``."""
        for record in job.early_records:
            consume(record)
        frontier = MemoryFrontier(_NoLock(), max_pages=job.config.max_pages)
        worker = Worker(job.config, frontier, MemoryVisited(), consume, name=f"{os.getpid()}")
        worker.schedule(job.seeds)
        worker.run()


STRATEGY = SerialStrategy()
