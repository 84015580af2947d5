"""A processes × greenlets child that keeps its G greenlets busy across batches.

Why: a child runs one task at a time, and between tasks it blocks reading its task
pipe (``os.read`` under a process-shared lock: nothing gevent can make cooperative). If the
greenlets lived on that thread, every batch would be a barrier: the next one would start only
when the slowest page of the previous one had finished, and at 50 ms latency a 2×32 crawl ran at
about half its concurrency.

So the greenlets run on a gevent hub in a thread of their own ("crawl hub"). The task
(``run``) only hands the batch over, and returns as soon as the child has room for more (no
more than G pages unfinished); the hub thread starts each page as soon as a greenlet is free,
and when a batch's last page is done it reports the batch (``workers.report_batch``: one
``BatchDone``, or ``TaskFailed``), exactly as a plain child does.

The process is patched with ``thread=False``: two real threads, and one hub on the crawl thread.
The hub thread opens its manager connection before the patch, so that connection stays a
blocking socket that ``multiprocessing`` can read with ``os.read``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.strategies.processes.messages import Task
from crawler.strategies.processes.workers import HeldPage, build_workers, report_batch


class GreenletChild:
    """The crawl thread of one child, and the hand-over from the child's tasks to it."""

    def __init__(self, config: CrawlConfig, state: Any, results: Any, shared: bool):
        self.config = config
        self.results = results
        self._batches: deque[tuple[int, tuple[Request, ...], dict[str, str | None]]] = deque()
        self._wake_r, self._wake_w = os.pipe()
        connected, self._patched = threading.Event(), threading.Event()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._load = threading.Condition()  # real: it is shared by two real threads
        self._unfinished = 0  # pages submitted and not finished
        self._args = (state, shared, connected)
        self.thread = threading.Thread(target=self._main, name="crawl hub", daemon=True)
        self.thread.start()
        connected.wait()
        from crawler.strategies.gevent import patch

        # Sockets, ssl, select, time: cooperative. Threads stay real (see the module doc).
        patch(thread=False, queue=False, Event=False)
        self._patched.set()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def run(self, task: Task) -> None:
        """Queue the task's batch for the hub thread (called for each task, on the main
        thread); return once this child has no more than G pages unfinished.

        The wait keeps the child's load at G pages: the tasks it has not taken yet wait in its
        task pipe, where the parent counts them as out (``ParentLoop.per_child``).
        """
        with self._load:
            self._unfinished += len(task.batch)
        self._batches.append((task.task_id, task.batch, dict(task.resumed)))
        os.write(self._wake_w, b"x")
        with self._load:
            while self._unfinished > self.config.greenlets:
                self._load.wait()

    # --- on the crawl thread -------------------------------------------------------------

    def _main(self) -> None:
        state, shared, connected = self._args
        try:
            if not shared:
                state.connect()  # this thread's own, still blocking, manager connections
        finally:
            connected.set()
        self._patched.wait()
        try:
            from gevent.pool import Pool

            from crawler.strategies.overlap import Overlap
            from crawler.worker import process_name

            process = process_name(self.config)
            names = [f"{process}/g{i}" for i in range(self.config.greenlets, 0, -1)]
            self.idle = build_workers(self.config, state, shared, names)
            self.pool = Pool(self.config.greenlets)
            # Nothing to stop here: a page's failure is its record, and ``report_batch`` sends
            # its own as ``TaskFailed``; the parent's watchdog covers a batch that never ends.
            self.overlap = Overlap(self.config.greenlets, stop=lambda: None)
        except BaseException as exc:
            self._failure = exc
            raise
        finally:
            self._ready.set()
        self._dispatch()

    def _dispatch(self) -> None:
        from gevent.socket import wait_read

        while True:
            wait_read(self._wake_r)
            os.read(self._wake_r, 4096)
            while self._batches:
                task_id, batch, resumed = self._batches.popleft()
                outcomes: list[Any] = [None] * len(batch)
                ended = [0.0] * len(batch)
                left = [len(batch)]
                for index, request in enumerate(batch):
                    # Blocks (cooperatively) while all G greenlets are busy.
                    page = (task_id, outcomes, ended, left, index)
                    self.pool.spawn(self._page, page, request, resumed)

    def _page(self, page, request, resumed) -> None:
        worker = self.idle.pop()
        try:
            if request.url in resumed:
                worker.resume(request.url, resumed[request.url])
            fetched = worker.fetch_page(request)
        finally:
            self.idle.append(worker)
        _, _, ended, _, index = page
        ended[index] = time.monotonic()  # its network half ended
        if fetched.turn is not None:  # robots.txt took its start: back to the parent
            self._parsed(worker, fetched, page)
            return
        # Parsed on a greenlet of its own, so this one can take the next page first.
        self.overlap.hand_over(self._parsed, worker, fetched, page)

    def _parsed(self, worker, fetched, page) -> None:
        task_id, outcomes, ended, left, index = page
        if fetched.turn is not None:
            outcomes[index] = HeldPage(fetched.turn, fetched.note)
        else:
            outcomes[index] = worker.read_page(fetched)
        left[0] -= 1
        if left[0] == 0:
            # This page's worker claims: ``idle`` may be empty while every greenlet fetches.
            report_batch(self.results, worker, task_id, outcomes, ended)
        with self._load:
            self._unfinished -= 1
            self._load.notify()
