"""What runs inside the processes strategy's children: module-level functions, plain data in and
out (a ``Task`` in, from the child's task pipe; ``TaskStarted`` then ``BatchDone`` or
``TaskFailed`` out, on the results channel, see ``messages``).

Two kinds of child, one shape: each has ``run(task)``. A plain child crawls the batch page by
page before it returns; a greenlet child (``greenlet_child``) hands it to its greenlets and
returns once it has room for more. Either way the batch's outcome comes on the channel.

Imports stay light on purpose: a greenlet child patches gevent in ``init_child`` before anything
here imports the HTTP stack (``crawler.worker`` pulls in w3lib, hence ``ssl``).
"""

from __future__ import annotations

import os
import time
from typing import Any, Protocol

from crawler.config import CrawlConfig
from crawler.errors import one_line
from crawler.strategies.processes.messages import Task, TaskFailed, TaskStarted
from crawler.strategies.processes.sigint import ignore_sigint
from crawler.strategies.processes.workers import HeldPage, build_workers, report_batch


class Child(Protocol):
    """This process's side of the crawl, built once by ``init_child``."""

    results: Any  # the results channel

    def run(self, task: Task) -> None:
        """Take one task; its outcome goes on ``results``."""
        ...


class PlainChild:
    """A child without greenlets: one ``Worker``, the batch's pages one after another."""

    def __init__(self, config: CrawlConfig, state: Any, results: Any, shared: bool) -> None:
        from crawler.worker import process_name

        if not shared:
            # Connect to the manager now, while sockets are still blocking: a multiprocessing
            # connection reads its fd with os.read, which fails on a socket gevent made
            # non-blocking. The proxies keep these connections for every later call.
            state.connect()
        self.results = results
        (self.worker,) = build_workers(config, state, shared, [process_name(config)])

    def run(self, task: Task) -> None:
        """Crawl the batch, then report it in one message (a page held back for its host's
        turn goes back unfetched)."""
        for url, note in task.resumed:
            self.worker.resume(url, note)
        outcomes: list[Any] = []
        ended = []
        for request in task.batch:
            fetched = self.worker.fetch_page(request)
            ended.append(time.monotonic())
            if fetched.turn is not None:
                outcomes.append(HeldPage(fetched.turn, fetched.note))
            else:
                outcomes.append(self.worker.read_page(fetched))
        report_batch(self.results, self.worker, task.task_id, outcomes, ended)


_child: Child | None = None
PARENT_CHECK_S = 1.0  # how often an idle child checks that its parent is still there


def init_child(config: CrawlConfig, state: Any, results: Any, shared: bool) -> None:
    """First thing in a child process: ignore Ctrl-C (the parent handles it) and build this
    process's child (a greenlet child patches gevent first).

    ``state`` is the manager's ``SharedState``, or, when ``shared``, the backend itself (a
    server every process may open).
    """
    global _child
    ignore_sigint()  # (``sigint``: started with SIGINT blocked)
    if config.greenlets:
        from crawler.strategies.processes.greenlet_child import GreenletChild

        _child = GreenletChild(config, state, results, shared)
    else:
        _child = PlainChild(config, state, results, shared)


def run_task(task: Task) -> None:
    """Run one task. The first message says which process took the task, so the parent can
    tell a task whose process died from one that is merely slow."""
    child = _child
    assert child is not None, "init_child did not run"
    child.results.put(TaskStarted(task.task_id, os.getpid()))
    child.run(task)


def child_main(tasks: Any, sender: Any, init_args: tuple[Any, ...]) -> None:
    """A child process's life (``children.ChildProcess``): build the child, then run the tasks
    of its pipe in order until the parent sends None. A task that raises is reported as
    ``TaskFailed``; the child goes on with the next."""
    sender.close()  # the parent's end (inherited through fork): this process only reads
    parent = os.getppid()
    init_child(*init_args)
    child = _child
    assert child is not None
    while True:
        if not tasks.poll(PARENT_CHECK_S):
            # No EOF tells a child that its parent died (SIGKILL, the OOM killer): a sibling
            # forked later holds a copy of this pipe's writing end. It would wait for ever.
            if os.getppid() != parent:
                return
            continue
        try:
            task = tasks.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        try:
            run_task(task)
        except (EOFError, ConnectionError) as exc:  # a manager proxy's call: it is gone
            child.results.put(TaskFailed(task.task_id, one_line(exc), lost=True))
        except Exception as exc:
            child.results.put(TaskFailed(task.task_id, one_line(exc)))
