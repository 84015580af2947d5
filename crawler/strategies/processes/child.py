"""What runs inside the processes strategy's pool children: module-level functions, plain data
in and out (``Request`` tuples in; record dicts and new ``Request`` tuples out).

Imports stay light on purpose: a greenlet child patches gevent in ``init_child`` before anything
here imports the HTTP stack (``crawler.worker`` pulls in w3lib, hence ``ssl``).
"""

from __future__ import annotations

import os
import signal
from typing import Any

from crawler.base import Request
from crawler.config import CrawlConfig


class _Child:
    """This process's crawl state, built once by ``init_child``."""

    def __init__(self, workers: list[Any], results: Any) -> None:
        self.workers = workers
        self.results = results


_state: _Child | None = None


def init_child(config: CrawlConfig, state: Any, results: Any, shared: bool) -> None:
    """Pool initializer: ignore Ctrl-C (the parent handles it), patch gevent when this child
    runs greenlets, and build one ``Worker`` (one HTTP session) per concurrent page.

    ``state`` is the manager's ``SharedState``, or, when ``shared``, the backend itself (a
    server every process may open).
    """
    global _state
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if config.greenlets:
        from crawler.strategies.processes.greenlet_child import GreenletChild

        _state = GreenletChild(config, state, results, shared)
        return
    if not shared:
        # Connect to the manager now, while sockets are still blocking: a multiprocessing
        # connection reads its fd with os.read, which fails on a socket gevent made
        # non-blocking. The proxies keep these connections for every later call.
        state.connect()
    from crawler.worker import process_name

    _state = _Child(build_workers(config, state, shared, [process_name(config)]), results)


def build_workers(config: CrawlConfig, state: Any, shared: bool, names: list[str]) -> list[Any]:
    """One ``Worker`` per name, sharing this process's view of the crawl state (visited set,
    host clock, robots cache) and one cookie jar."""
    from http.cookiejar import CookieJar

    from crawler.backends.manager import HostClockClient, RobotsCacheClient
    from crawler.strategies.inprocess import ThreadingSync
    from crawler.worker import Worker

    if shared:
        sync = ThreadingSync()
        visited = state.visited(config, sync)
        host_clock = state.host_clock(config, sync)
        robots = state.robots_cache(config, sync)
    else:
        visited = state.visited
        host_clock = HostClockClient(state.host_clock, config)
        robots = RobotsCacheClient(state.robots)
    cookies = CookieJar()  # one per process, shared by its loops
    return [
        Worker(
            config,
            None,
            visited,
            None,
            name=name,
            host_clock=host_clock,
            robots=robots,
            cookies=cookies,
        )
        for name in names
    ]


def run_task(task_id: int, batch: list[Request]) -> tuple[int, list[Request]]:
    """Crawl a batch of requests; put its records on the results queue in one message; claim
    every link the batch found in one round trip; return the requests new to the crawl.

    The first message says which process took the task, so the parent can tell a task whose
    process died from one that is merely slow.
    """
    state = _state
    assert state is not None, "init_child did not run"
    state.results.put(("start", task_id, os.getpid()))
    if not isinstance(state, _Child):  # greenlets: the batch's results come on the channel
        state.submit(task_id, batch)
        return None
    workers = state.workers
    outcomes = [workers[0].crawl(request) for request in batch]
    children = [child for _, found in outcomes for child in found]
    # Claim before sending records: if claiming fails, the batch's pages become `internal`
    # records in the parent (error_callback) instead of silently losing their links.
    fresh = workers[0].claim(children) if children else []
    state.results.put(("records", task_id, [record.to_dict() for record, _ in outcomes]))
    return task_id, fresh
