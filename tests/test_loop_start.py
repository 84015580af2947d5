"""Loops of one process start together: none crawls while the others are still starting."""

from __future__ import annotations

import threading

from crawler.backends.memory.backend import MemoryBackend
from crawler.base import CrawlJob
from crawler.config import CrawlConfig
from crawler.strategies.inprocess import run_loops
from crawler.strategies.threads import _join, _start


def test_every_thread_is_started_before_any_loop_runs():
    # A loop that crawled at once would hold the interpreter lock while the next threads
    # start (each start waits for its thread to run): the last loops' hosts started late.
    workers = 16
    config = CrawlConfig(mode="threads", workers=workers, robots=False)
    started: list[threading.Thread] = []
    seen: list[int] = []

    def start(target, name):
        thread = _start(target, name)
        started.append(thread)
        return thread

    def loop(frontier):
        def run(worker):
            seen.append(len(started))  # threads whose start had returned

        return run

    job = CrawlJob(config, MemoryBackend(), [])
    run_loops(
        job, lambda record: None, workers=workers, tag="t", start=start, join=_join, loop=loop
    )
    assert seen == [workers] * workers
