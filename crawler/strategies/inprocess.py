"""The loop shared by the in-process concurrent strategies (threads, gevent).

N ``Worker`` loops share one frontier and one visited set built by the backend with
``threading`` primitives (which are gevent's once ``gevent.monkey.patch_all()`` has run, so the
same code serves greenlets). Workers put records on a ``queue.Queue``; the calling thread is the
single consumer that calls ``consume``. The strategy only says how a loop is started and joined.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from http.cookiejar import CookieJar
from typing import Any

from crawler.base import CrawlJob, Emit, Frontier
from crawler.http.registry import open_connections
from crawler.interrupt import GracefulInterrupt
from crawler.worker import Worker, process_name

# A worker loop puts this on the records queue when it has returned, whatever the reason.
_LOOP_DONE = object()


class ThreadingSync:
    """``threading`` primitives: real locks for threads, cooperative ones once gevent patched."""

    def lock(self) -> Any:
        """A ``threading.Lock``."""
        return threading.Lock()

    def condition(self) -> Any:
        """A ``threading.Condition``."""
        return threading.Condition()


class _LoopFailed:
    """A worker loop died of an exception outside any page (a bug in the frontier, say)."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def run_loops(
    job: CrawlJob,
    consume: Emit,
    *,
    workers: int,
    tag: str,
    start: Callable[[Callable[[], None], str], Any],
    join: Callable[[list[Any]], None],
    loop: Callable[[Frontier], Callable[[Worker], None]] | None = None,
    defer: Callable[[Callable[[], None]], Any] | None = None,
) -> None:
    """Run ``workers`` loops started with ``start(target, name)``; consume their records here.

    ``defer(call)`` runs ``call`` soon, outside the caller, without blocking it: Ctrl-C's
    handler, which runs wherever the interpreter is (under gevent, inside any greenlet, which
    may hold the frontier's lock), closes the frontier through it. Left out, the handler
    closes it itself (threads: the handler runs on this thread, which never holds that lock).

    ``loop(frontier)`` gives how one loop runs a ``Worker`` (``Worker.run`` unless given).

    Ctrl-C on the calling thread closes the frontier, lets the pages in flight finish (each is
    bounded by its deadline), passes on every record they produce, waits for the loops to
    return (``join``), then re-raises ``KeyboardInterrupt``.
    """
    # One pool per host for all loops: a host's next page reuses its open connection. Closed
    # however the crawl ends (a failing sink leaves without waiting for the loops).
    connections = open_connections(job.config, loops=workers)
    try:
        _run(job, consume, connections, workers, tag, start, join, loop, defer)
    finally:
        if connections is not None:
            connections.close()


def _run(
    job: CrawlJob,
    consume: Emit,
    connections: Any,
    workers: int,
    tag: str,
    start: Callable[[Callable[[], None], str], Any],
    join: Callable[[list[Any]], None],
    loop: Callable[[Frontier], Callable[[Worker], None]] | None,
    defer: Callable[[Callable[[], None]], Any] | None,
) -> None:
    for record in job.early_records:
        consume(record)
    sync = ThreadingSync()
    frontier = job.backend.frontier(job.config, sync)
    visited = job.backend.visited(job.config, sync)
    # Politeness state and cookies are the crawl's, not a loop's: every loop gets the same.
    host_clock = job.backend.host_clock(job.config, sync)
    robots = job.backend.robots_cache(job.config, sync)
    cookies = CookieJar()
    records: queue.Queue[Any] = queue.Queue()
    process = process_name(job.config)
    loops = [
        Worker(
            job.config,
            frontier,
            visited,
            records.put,
            name=f"{process}/{tag}{i}",
            host_clock=host_clock,
            robots=robots,
            cookies=cookies,
            connections=connections,
        )
        for i in range(1, workers + 1)
    ]
    loops[0].schedule(job.seeds)
    run_loop = loop(frontier) if loop is not None else Worker.run

    # A starting gate: each loop waits at it until all are started. A loop that started
    # crawling at once would hold the interpreter lock while the next ones start (a thread's
    # start waits for it to run): 64 threads took 0.3-0.7 s to start on a busy machine, and
    # the hosts of the last loops started that much later.
    gate = threading.Event()

    def body(worker: Worker) -> None:
        try:
            gate.wait()
            run_loop(worker)
        except BaseException as exc:  # reported to the consumer, which re-raises it
            frontier.close()
            records.put(_LoopFailed(exc))
        finally:
            records.put(_LOOP_DONE)

    # The first Ctrl-C closes the frontier instead of raising: the loops finish the pages in
    # flight and return, and every record reaches ``consume``. A KeyboardInterrupt raised where
    # the interpreter happened to be lost the record in hand (between a page's fetch and its
    # record, or inside ``consume``) and, under gevent, could land in the hub. A second Ctrl-C
    # raises, to stop waiting for the pages in flight.
    close = frontier.close if defer is None else (lambda: defer(frontier.close))
    failure: BaseException | None = None
    with GracefulInterrupt(close) as graceful:
        try:
            handles = [start(lambda w=w: body(w), w.name) for w in loops]
        finally:
            gate.set()
        running = len(handles)
        while running:
            item = records.get()
            if item is _LOOP_DONE:
                running -= 1
            elif isinstance(item, _LoopFailed):
                failure = failure or item.exc
            else:
                consume(item)
        join(handles)
    if graceful.requested or isinstance(failure, KeyboardInterrupt):
        raise KeyboardInterrupt
    if failure is not None:
        raise failure
