"""Processes: P child processes, each fed through a task pipe of its own (``children.py``),
optionally G greenlets in each.

The parent owns the frontier and is the only one to pop it; it hands out batches of requests and
keeps about two batches per process outstanding so no process idles. It chooses the child of
each batch: a host's pages go to the child that took its first page, which holds its
connection (``homes.py``). A child
crawls a batch (up to 8 pages one by one, or up to G at once on greenlets), claims every link it
found in the visited set in one round trip (none when it has asked about all of them before:
``known.py``), and sends one ``BatchDone`` on the results channel:
the batch's records, each already encoded as its JSON line (the parent writes it to a JSON Lines
file as it is, and decodes it only for a sink that needs a ``Record``), and the new requests.
The messages are ``messages.py``'s dataclasses. The visited set lives in a ``multiprocessing``
manager (``manager.py``), or, for a backend that is a server (``backend.shared``), each child
opens it directly.

Start method: a fresh interpreter when children run greenlets (each child patches gevent itself,
before it imports the HTTP stack; an ssl-laden parent is never forked): ``forkserver`` where
there is one, which imports what a child needs before its patch (``PRELOAD``) once per parent
process and forks each child from that, else ``spawn``; otherwise ``fork``, which starts P
children in milliseconds instead of ~0.2 s of imports each. The manager process is forked
wherever fork exists. A program gevent has patched cannot run this mode (``PATCHED_PARENT``:
multiprocessing's connections fail on patched sockets), and is told so before anything starts.

A task that raises becomes ``internal`` records for its batch (``TaskFailed``). A child that
dies hard (SIGKILL, segfault) is noticed by a watchdog: children report (task, pid) when a task
starts, and a task whose process is gone, or that outlives a generous deadline, is given up: a
new process takes the child's place (and the tasks it had not started), the pages of a
multi-page batch are retried one per task, and a page whose own process dies becomes a
``worker_crash`` record. The crawl goes on. At the natural end the children are idle and end
on their own; a crawl stopped early kills them (no lock of the parent's is ever theirs).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from typing import Any

from crawler.base import Consume, CrawlJob
from crawler.children import claim_new
from crawler.errors import BackendError, ModeUnavailable, one_line
from crawler.http.registry import prepare_to_fork
from crawler.strategies.gevent import is_patched
from crawler.strategies.inprocess import ThreadingSync
from crawler.strategies.processes.channel import Channel
from crawler.strategies.processes.children import ChildProcess
from crawler.strategies.processes.manager import start_manager
from crawler.strategies.processes.parent import MANAGER_GONE, ParentLoop
from crawler.strategies.processes.sigint import starting_children
from crawler.strategies.serial import SerialSync

MERGE_S = 0.01  # how often the parent takes the children's host bookings
MERGE_MAX_S = 0.04  # and how seldom, at most, while none come


class DispatchSync(SerialSync):
    """The parent's sync: one thread, so no locks; and a ``dispatcher``, popping pages for
    the children. The memory frontier would otherwise keep it on the host it popped last, as
    it keeps a loop that has fetched its last page: here that page has not left yet, so two
    pages of one host went out together (in one batch, on two connections at once, even
    past ``--per-host 1``) where the next ready host should have gone."""

    dispatcher = True


def start_method(greenlets: int) -> str:
    """The ``multiprocessing`` start method for this crawl (see the module docstring)."""
    if greenlets or "fork" not in multiprocessing.get_all_start_methods():
        return "spawn"
    return "fork"


# What a child imports before it patches gevent: none of it imports ssl or binds socket, select
# or time functions at import (the patch comes later, in the child). The forkserver imports them
# once; each child it forks starts with them loaded (~0.1 s of CPU less per child than spawn,
# and in a long-lived program, such as a test run, the forkserver serves every later crawl).
PRELOAD = [
    "crawler.config",
    "crawler.strategies.gevent",
    "crawler.strategies.processes.child",
    "crawler.strategies.processes.greenlet_child",
    "crawler.strategies.processes.manager",
    "gevent",
    "gevent.monkey",
    "crawler.strategies.processes.forkserver_preload",  # last: the forkserver blocks SIGINT
]


def pool_context(greenlets: int) -> Any:
    """The ``multiprocessing`` context the pool's children start from: ``start_method``'s, with
    ``forkserver`` (preloaded) in place of ``spawn`` where the platform has it."""
    method = start_method(greenlets)
    if method == "spawn" and "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context(method)


def stop_forkserver() -> None:
    """Stop and reap this process's forkserver, if one was started: a program that runs one
    crawl calls it at the end, so that the children's CPU (the forkserver reaped them) counts
    in its own (``getrusage``'s reaped children) and no process of the crawl outlives it.
    (``ForkServer._stop`` is what CPython's own tests call; without it, this does nothing.)"""
    import multiprocessing.forkserver

    stop = getattr(multiprocessing.forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


# multiprocessing's connections (the manager's, the pools') read with os.read, which fails on
# a socket gevent patched, and every child re-imports the patched ``__main__``: the crawl died
# of BlockingIOError with the memory backend and hung with Redis.
PATCHED_PARENT = (
    "processes mode cannot run in a program gevent has patched (multiprocessing's connections "
    "fail on patched sockets); start the crawl from a program that does not patch (the crawl "
    "command does not), or use mode='gevent'"
)


class ProcessesStrategy:
    """``config.workers`` processes; ``config.greenlets`` greenlets in each (0: none)."""

    name = "processes"

    def run(self, job: CrawlJob, consume: Consume) -> None:
        """Crawl on child processes; records are consumed on the calling thread."""
        if is_patched():
            raise ModeUnavailable(PATCHED_PARENT)
        for record in job.early_records:
            consume(record)
        config, backend = job.config, job.backend
        context = pool_context(config.greenlets)
        frontier = backend.frontier(config, DispatchSync())  # popped by this thread only
        manager = None
        try:
            if backend.shared:
                state: Any = backend
                visited = backend.visited(config, ThreadingSync())
            else:
                # The manager never runs gevent: forked (~0.15 s less before the first page
                # than a fresh interpreter), never spawned where the forkserver exists
                # (``sigint``: a spawned child starts with SIGINT unblocked).
                manager_context = pool_context(greenlets=0)
                with starting_children():  # (``sigint``)
                    manager, state = start_manager(manager_context, backend, config)
                visited = state.visited
            seeds = claim_new(visited, job.seeds)
            channel = Channel(context)
            if context.get_start_method() == "fork":
                prepare_to_fork(config)  # done once here, not once in every child
            init_args = (config, state, channel, backend.shared)
            # The parent chooses the child of each task: a host's pages go to the child holding
            # its connection (``homes``).
            children: list[ChildProcess] = []
            finished = False
            try:
                for k in range(config.workers):  # their processes start in ``start``, below
                    name = f"crawl-child-{k}"
                    children.append(ChildProcess(context, init_args, name, start=False))
                before_dispatch = None
                if not backend.shared:
                    # The frontier's host schedule is this process's; children book theirs in
                    # the manager: bring those bookings over before each round of hand-outs.
                    local_clock = backend.host_clock(config, SerialSync())
                    hosted = state.host_clock
                    # When to look next, and the pause since the last look (nothing is booked
                    # before a child starts).
                    due = [time.monotonic() + MERGE_S, MERGE_S]

                    def before_dispatch() -> None:
                        # At most one round trip per MERGE_S: the children's clock enforces the
                        # delays anyway, this only spares them waiting on a host. A look that
                        # finds nothing doubles the pause, up to MERGE_MAX_S (a crawl without
                        # delays has nothing to bring after each host's robots.txt); one that
                        # finds something brings it back to MERGE_S.
                        now = time.monotonic()
                        if now >= due[0]:
                            try:
                                updates = hosted.take_updates()
                            except (EOFError, OSError) as exc:
                                raise BackendError(MANAGER_GONE.format(one_line(exc))) from None
                            due[1] = MERGE_S if updates else min(2 * due[1], MERGE_MAX_S)
                            due[0] = now + due[1]
                            local_clock.merge(updates)

                loop = ParentLoop(job, consume, children, frontier, before_dispatch, channel.get)
                loop.queued = frontier.push_many(seeds)
                if backend.durable and not backend.shared:
                    # A resumed crawl (--state): what an earlier run left queued is work too.
                    loop.queued = frontier.snapshot()["queued"]

                def start() -> None:
                    # After the first hand-out: the children with pages start first, so the
                    # seed is fetched while the parent forks the others (a few ms each).
                    for k in sorted(range(len(children)), key=lambda k: -loop.out[k]):
                        children[k].restart()

                loop.run(start)
                finished = True
            finally:
                # At the natural end the manager is shut down while the children exit: both
                # take a few ms (a child's exit tells the manager it drops its proxy, which may
                # now fail, harmlessly), and neither needs the other any more.
                meanwhile = manager.shutdown if manager is not None and finished else None
                end_children(children, finished, meanwhile)
                channel.close()
        finally:
            if manager is not None:
                manager.shutdown()


def end_children(
    children: list[ChildProcess], finished: bool, meanwhile: Callable[[], object] | None = None
) -> None:
    """End every child and wait for it, calling ``meanwhile`` (if given) once they have been
    told. At the natural end (``finished``) they are idle, and each ends once it reads None; a
    crawl stopped early (Ctrl-C, an error) may have pages in flight, which are ``interrupted``
    records already (or never will be, the error): the children are killed."""
    for child in children:
        if finished:
            child.stop()
        else:
            child.kill()
    if meanwhile is not None:
        meanwhile()
    for child in children:
        child.join()
        child.close()


STRATEGY = ProcessesStrategy()
