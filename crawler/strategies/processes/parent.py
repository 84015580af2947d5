"""The parent side of the processes strategy: hand batches to the children, collect what comes
back, watch the children (``watchdog.py``; batch sizes: ``batching.py``). Everything here runs
on the crawl's calling thread, which reads the children's messages (``messages``) off the
results channel itself: a reader thread handing them over through a queue cost ~0.15 ms a
message in wake-ups and GIL hand-offs, and nothing waits on the parent meanwhile (a child
never blocks on its task pipe, and the channel is read between any two hand-outs)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crawler.base import Consume, CrawlJob, Request
from crawler.errors import BackendError
from crawler.held import Held
from crawler.interrupt import WHOLE
from crawler.politeness.schedule import host_key
from crawler.record import Record
from crawler.strategies.processes.batching import Batching
from crawler.strategies.processes.homes import HostHomes
from crawler.strategies.processes.messages import BatchDone, Message, Task, TaskFailed, TaskStarted
from crawler.strategies.processes.watchdog import Watchdog
from crawler.worker import failed_record, process_name

POLL_S = 0.25  # how often the parent checks on its children when nothing arrives
# How often the parent looks again when pages are queued but no host may start yet.
READY_POLL_S = 0.005
CTRL_C_GRACE_S = 2.0  # how long Ctrl-C waits for pages in flight before stopping the children
# The manager process died under the crawl (killed, out of memory): its state (the visited set,
# the host clock) is gone with it, so the crawl ends as one whose backend was lost.
MANAGER_GONE = (
    "the processes strategy's manager process (the crawl's visited set and host clock) is gone: {}"
)


@dataclass
class _Task:
    """One batch handed to a child, until its ``BatchDone`` (or the parent gives up on it)."""

    batch: tuple[Request, ...]
    child: int = 0  # which of the parent's children it went to
    pid: int | None = None  # the process that took it (``TaskStarted``)
    started: float = 0.0


class ParentLoop:
    """The parent side of one crawl: dispatch, collect, watch. Runs on the calling thread."""

    def __init__(
        self,
        job: CrawlJob,
        consume: Consume,
        children: Sequence[Any],
        frontier: Any,
        before_dispatch: Any = None,
        receive: Callable[[float], Message | None] | None = None,
    ) -> None:
        self.config = job.config
        # The children's next message, waiting at most the given seconds (the results
        # channel's ``get``); None: no channel (a loop driven by ``handle`` alone, in tests).
        self.receive = receive
        # Called before each dispatch round: brings what children booked on hosts into the
        # frontier's schedule (None when the frontier shares the children's state).
        self.before_dispatch = before_dispatch
        self.waiting_host = False  # pages queued, but no host may start yet
        self.consume = consume
        # ``children.ChildProcess`` each: a task goes to the child chosen for it (``homes``).
        self.children = list(children)
        self.homes = HostHomes(len(self.children))
        self.out = [0] * len(self.children)  # tasks out per child
        # Pages popped for a child that had no room yet (its host's home): in flight for the
        # frontier, handed to that child first when it has room again.
        self.held: list[deque[Request]] = [deque() for _ in self.children]
        self.holding = 0
        # Pages a child gave back unfetched (``BatchDone.held``): in flight for the frontier,
        # given out again at their host's turn, as ``Task.resumed`` (URL -> record note).
        self.turns = Held()
        self.resumed: dict[str, str | None] = {}
        self.frontier = frontier
        self.tasks: dict[int, _Task] = {}
        self.queued = 0  # the parent is the frontier's only consumer, so it can count
        # A server-backed frontier (Redis) is fed by other workers too: the count is only a
        # hint, and the frontier's ``pop`` decides when the crawl is over (None: finished
        # crawl-wide, or nothing to pop while this parent's own leases are out).
        self.shared = bool(getattr(job.backend, "shared", False))
        self.exhausted = False
        self.computing = 0  # tasks out: neither done nor given up
        self.next_id = 0
        # Pages of a batch whose process died: retried one per task, so that only the page
        # that kills a process again is recorded as ``worker_crash``.
        self.retry: deque[Request] = deque()
        self.frontier_open = True
        limits = Batching.of(self.config, len(self.children))
        self.batch_cap = limits.batch_cap  # pages per task
        self.per_child = limits.per_child  # tasks out per child
        self.hold_cap = limits.hold_cap  # pages kept for a busy child
        self.limit = limits.limit  # tasks out in all
        self.watchdog = Watchdog(self.children, self.tasks, self.give_up, limits.task_deadline)

    def run(self, start: Callable[[], object] | None = None) -> None:
        """Until the frontier is empty and no task is out; Ctrl-C: see ``interrupt``. ``start``
        is called once, after the first hand-out (the strategy starts the children's processes
        then: the first batches wait in their task pipes, and a child that has one starts
        first)."""
        next_check = time.monotonic() + POLL_S
        while True:
            try:
                self.dispatch()
                if start is not None:
                    begin, start = start, None
                    begin()
                idle = not self.tasks and not self.retry and not self.holding and not self.turns
                if idle and (self.exhausted if self.shared else self.queued == 0):
                    return
                wait = READY_POLL_S if self.waiting_host else POLL_S
                if self.turns:
                    wait = min(wait, max(0.0, self.turns.next_turn() - time.monotonic()))
                self.handle_next(wait)
                now = time.monotonic()
                if now >= next_check:
                    self.watch(now)
                    next_check = now + POLL_S
            except KeyboardInterrupt:
                self.interrupt()
                raise

    def dispatch(self) -> None:
        """Hand out batches while work is queued and some child has fewer than its share of
        ``limit`` tasks out; a page goes to its host's home child while that one has room
        (``homes``); batches are split so every idle process gets a share of a short queue."""
        while self.retry and self.computing < self.limit:
            self._submit([self.retry.popleft()], self._roomiest())
        if self.before_dispatch is not None:
            self.before_dispatch()
        self.exhausted = False
        self.waiting_host = False
        room = [self.per_child - out for out in self.out]  # more tasks each child may take
        share = -(-self.queued // max(1, sum(room)))
        if self.shared:  # lease little at a time: other workers share this queue
            share = self.config.greenlets or 1
        size = min(self.batch_cap, share)
        batches: list[list[Request]] = [[] for _ in self.children]
        pending = 0  # pages in ``batches``

        def add(child: int, request: Request) -> None:
            nonlocal pending
            batch = batches[child]
            batch.append(request)
            pending += 1
            if len(batch) >= size:
                self._submit(batch, child)
                batches[child] = []
                pending -= len(batch)
                room[child] -= 1

        for child, held in enumerate(self.held):  # pages kept for their home, first
            while held and room[child] > 0:
                self.holding -= 1
                add(child, held.popleft())
        while (self.queued or self.shared or self._turn_due()) and any(r > 0 for r in room):
            if self._turn_due():
                request, note = self.turns.take()
                self.resumed[request.url] = note
            else:
                # With nothing of ours out, the pop may wait for the earliest host; else it
                # must not (events are waiting): then look again shortly.
                idle = not self.tasks and not self.retry and not pending and not self.holding
                idle = idle and not self.turns
                request = self.frontier.pop(timeout=None if idle else 0)
                if request is None and not idle and not self.frontier.closed:
                    self.waiting_host = True  # no host may start yet (or, shared: leases out)
                    break
                if request is None:  # closed, or (shared) nothing to pop now
                    self.queued = 0
                    self.exhausted = True
                    break
                self.queued = max(0, self.queued - 1)
            host = host_key(request.url)
            home = self.homes.home(host)
            if (
                home is not None
                and room[home] <= 0
                and len(self.held[home]) < self.hold_cap
                and all(self.out[k] or batches[k] for k, r in enumerate(room) if r > 0)
            ):
                # Its home child is busy: the page waits for it, unless a child would idle
                # meanwhile (so one host alone still keeps every child busy); a few at most.
                self.held[home].append(request)
                self.holding += 1
                continue
            add(self.homes.pick(host, room), request)
        for child, batch in enumerate(batches):
            if batch:
                self._submit(batch, child)

    def _turn_due(self) -> bool:
        return bool(self.turns) and self.turns.next_turn() <= time.monotonic()

    def _roomiest(self) -> int:
        return min(range(len(self.children)), key=self.out.__getitem__)

    def _submit(self, batch: list[Request], child: int) -> None:
        task_id, self.next_id = self.next_id, self.next_id + 1
        resumed = self.resumed
        notes = tuple((r.url, resumed.pop(r.url)) for r in batch if r.url in resumed)
        task = Task(task_id, tuple(batch), notes)
        self.tasks[task_id] = _Task(task.batch, child=child)
        self.computing += 1
        self.out[child] += 1
        self.children[child].submit(task)  # its outcome comes on the channel

    def _ended(self, task: _Task) -> None:
        """``task`` is out no more (done, or given up)."""
        self.computing -= 1
        self.out[task.child] -= 1

    def _next_event(self, timeout: float) -> Message | None:
        return self.receive(timeout) if self.receive is not None else None

    def handle_next(self, timeout: float) -> None:
        """Wait at most ``timeout`` seconds for the next message, and apply it. A Ctrl-C that
        comes meanwhile is raised once it is applied (``WHOLE``, ``crawler/interrupt.py``):
        between taking a finished batch and writing the last of its records, it would lose
        the rest (the batch is no longer in flight, so ``interrupt`` does not record them),
        and between taking a message and applying it, the message. It waits at most
        ``timeout`` (``POLL_S``) for that."""
        with WHOLE:
            self.handle(self._next_event(timeout))

    def handle(self, message: Message | None) -> None:
        """Apply one message from a child (None: nothing came)."""
        match message:
            case TaskStarted(task_id, pid):
                self.watchdog.started(task_id, pid)
            case BatchDone(task_id, records, fresh, ended, held):
                task = self.tasks.pop(task_id, None)
                if task is None:
                    return  # a task already given up on (crashed, timed out)
                self._ended(task)
                batch = task.batch
                if held:  # not fetched: robots.txt took their start; out again at their turn
                    for index, turn, note in held:
                        self.turns.add(turn, batch[index], note)
                    back = {index for index, _, _ in held}
                    batch = tuple(r for i, r in enumerate(batch) if i not in back)
                # The worker loop's order: new links queued, records emitted, then ``done``
                # (a shared frontier ends a page's lease with its record).
                if fresh:
                    self.queued += self.frontier.push_many(fresh)
                for record in records:
                    self.consume(record)
                now = time.monotonic()
                for request, end in zip(batch, ended or (now,) * len(batch), strict=True):
                    self.frontier.done(request, max(0.0, now - end))
            case TaskFailed(task_id, line, lost=True):
                self.give_up(task_id, "internal", f"worker raised {line}")  # its records
                raise BackendError(MANAGER_GONE.format(line))
            case TaskFailed(task_id, line):
                self.give_up(task_id, "internal", f"worker raised {line}")

    def give_up(self, task_id: int, error: str, detail: str) -> None:
        """End a task without its result: its pages become ``error`` records and leave the
        frontier. The pages of a batch whose process
        died are retried one per task instead: only a page that dies alone is a crash."""
        with WHOLE:  # a Ctrl-C waits for the batch's records (see ``handle_next``)
            self._give_up(task_id, error, detail)

    def _give_up(self, task_id: int, error: str, detail: str) -> None:
        task = self.tasks.pop(task_id, None)
        if task is None:
            return
        self._ended(task)
        retry = error == "worker_crash" and len(task.batch) > 1
        if retry and self.frontier_open:
            self.retry.extend(task.batch)  # still in flight for the frontier
            return
        for request in task.batch:  # an unfinished task's pages are still in flight
            self.frontier.done(request)
        worker = process_name(self.config, task.pid) if task.pid else None
        for request in task.batch:
            self.consume(self._failed(request, error, detail, worker))

    def _failed(self, request: Request, error: str, detail: str, worker: str | None) -> Record:
        return failed_record(request, error, detail, mode=self.config.mode, worker=worker)

    def watch(self, now: float) -> None:
        """The watchdog's look at the children and the tasks out (``watchdog.py``)."""
        self.watchdog.check(now)

    def interrupt(self) -> None:
        """Ctrl-C: dispatch nothing more, give the pages in flight a short grace to finish,
        then record the rest as ``interrupted``. A second Ctrl-C skips the grace."""
        self.frontier.close()
        self.frontier_open = False
        self.queued = 0
        grace_until = time.monotonic() + min(CTRL_C_GRACE_S, self.config.page_deadline)
        try:
            while self.tasks and (left := grace_until - time.monotonic()) > 0:
                self.handle_next(min(left, POLL_S))
        except KeyboardInterrupt:
            pass
        for task_id in list(self.tasks):
            self.give_up(task_id, "interrupted", "stopped by Ctrl-C")
        for held in self.held:  # popped, never handed to a child
            self.retry.extend(held)
            held.clear()
        self.holding = 0
        self.retry.extend(self.turns.take_all())  # given back by a child, waiting their turn
        self.resumed.clear()
        while self.retry:
            request = self.retry.popleft()
            self.frontier.done(request)
            self.consume(self._failed(request, "interrupted", "stopped by Ctrl-C", None))
