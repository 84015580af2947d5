"""Threads: N worker loops on N threads of this process, sharing a lock-protected frontier and
visited set. Good for I/O-bound crawls of a few hundred pages per second; the GIL caps parsing
to one core."""

from __future__ import annotations

import threading
from typing import Any

from crawler.base import CrawlJob, Emit
from crawler.strategies.inprocess import run_loops


def _start(target: Any, name: str) -> threading.Thread:
    # Daemon threads: a second Ctrl-C may leave the wait for in-flight pages early.
    thread = threading.Thread(target=target, name=f"crawl-{name}", daemon=True)
    thread.start()
    return thread


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join()


class ThreadsStrategy:
    """``config.workers`` threads, each running one ``Worker`` with its own HTTP session."""

    name = "threads"
    # Its loops pop in this process: seeds can be read while they crawl (crawler/seedfeed.py).
    streams_seeds = True

    def run(self, job: CrawlJob, consume: Emit) -> None:
        """Crawl on threads; records are consumed on the calling thread."""
        run_loops(job, consume, workers=job.config.workers, tag="t", start=_start, join=_join)


STRATEGY = ThreadsStrategy()
