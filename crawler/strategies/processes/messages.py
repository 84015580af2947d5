"""What crosses between the parent and its children: one frozen dataclass per message.

The parent sends a ``Task`` (through the child's task pipe, ``children``). A child answers on
the results channel with ``TaskStarted`` when it takes the task, then exactly one of
``BatchDone`` (the batch's records, already encoded, the requests new to the crawl, already
claimed, and the pages it gives back unfetched for their host's turn) or ``TaskFailed`` (also
for a task that raised before it could send either).
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.base import Request
from crawler.record import EncodedRecord


@dataclass(frozen=True, slots=True)
class Task:
    """A batch of requests for one child. ``resumed``: ``(url, note)`` of its pages that a child
    held back before (``BatchDone.held``): their robots.txt took the start their hand-out
    booked, and ``note`` is what their record must say of the host."""

    task_id: int
    batch: tuple[Request, ...]
    resumed: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class TaskStarted:
    """A child process took the task: a task whose process then dies is a crash."""

    task_id: int
    pid: int


@dataclass(frozen=True, slots=True)
class BatchDone:
    """Every page of the task crawled: a record per request, and the new requests its pages
    led to (claimed in the visited set, to be queued). ``ended``: when each page's network
    half ended (``time.monotonic()``, one clock for the machine's processes), in batch order,
    so that its host's next start keeps the delay from then, not from the batch's report."""

    task_id: int
    records: list[EncodedRecord]
    fresh: list[Request]
    ended: tuple[float, ...] = ()
    # ``(index in the batch, turn, note)`` of pages not fetched: the child read their host's
    # robots.txt, which took their start, and the host has a delay. The parent gives each out
    # again at its turn (``time.monotonic()``); ``records`` and ``ended`` are the others'.
    held: tuple[tuple[int, float, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class TaskFailed:
    """The task raised (``summary``: the exception's one line); its pages become records.
    ``lost``: it could not reach the crawl's manager process (the visited set, the host
    clock), which is gone: the crawl cannot go on."""

    task_id: int
    summary: str
    lost: bool = False


Message = TaskStarted | BatchDone | TaskFailed
