"""One host's queued requests, packed (``packed.py``): a FIFO run per depth, the lowest depth
first, parts of which may lie on disk (``spill.py``) when the frontier has a memory bound.

A run is ``[head, entries, chunks, tail]``: ``entries[head:]`` in memory come first, then the
``chunks`` on disk in order, then the ``tail`` (pushed after the run spilled) in memory.
``chunks`` and ``tail`` are None while nothing of the run is on disk (the common case costs one
``is None`` test per push). When the memory part is spent, ``pop`` reads the next chunk back;
after the last one the tail joins the memory part and the run is whole again. So each run, and
the queue, comes back in exactly the order pushed, wherever its requests waited.
"""

from __future__ import annotations

import sys
from collections import deque

from crawler.backends.memory.spill import SpillStore

_COMPACT_AT = 1024  # a run drops its consumed head once it is this long and half the run
# What one queued entry costs in memory beyond its bytes: a ``bytes`` header and a list slot.
ENTRY_COST = sys.getsizeof(b"") + 8


class Meter:
    """Bytes of queued requests in memory, across one frontier's host queues."""

    __slots__ = ("bytes",)

    def __init__(self) -> None:
        self.bytes = 0


def _cost(entries: list[bytes]) -> int:
    return sum(map(len, entries)) + ENTRY_COST * len(entries)


def _count_for(entries: list[bytes], budget: int | None) -> int:
    """How many of ``entries``, from the first, free ``budget`` bytes (None: all of them)."""
    if budget is None:
        return len(entries)
    total = 0
    for i, entry in enumerate(entries):
        total += len(entry) + ENTRY_COST
        if total >= budget:
            return i + 1
    return len(entries)


class HostQueue:
    """One host's queued requests, packed: a FIFO run per depth, the lowest depth first."""

    __slots__ = ("prefix", "_runs", "_size", "_meter", "_store")

    def __init__(
        self, prefix: str = "", meter: Meter | None = None, store: SpillStore | None = None
    ) -> None:
        # Left out of the packed URLs that start with it (``pack``): the host's usual origin.
        self.prefix = prefix
        self._runs: dict[int, list] = {}  # depth -> [head index, entries, chunks, tail]
        self._size = 0
        self._meter = meter if meter is not None else Meter()
        self._store = store  # where ``spill`` writes (None: the queue stays in memory)

    def __len__(self) -> int:
        return self._size

    def push(self, depth: int, entry: bytes) -> None:
        """Queue one packed request at ``depth``."""
        run = self._runs.get(depth)
        if run is None:
            self._runs[depth] = [0, [entry], None, None]
        elif run[3] is None:
            run[1].append(entry)
        else:
            run[3].append(entry)  # behind what is on disk
        self._size += 1
        self._meter.bytes += len(entry) + ENTRY_COST

    def pop(self) -> tuple[int, bytes]:
        """The first request of the lowest depth: ``(depth, packed)``. The queue is not empty."""
        runs = self._runs
        depth = min(runs) if len(runs) > 1 else next(iter(runs))
        run = runs[depth]
        head, entries = run[0], run[1]
        if head == len(entries):  # the memory part is spent: the run's next part comes back
            entries = self._refill(run)
            head = 0
        entry = entries[head]
        head += 1
        if head == len(entries) and run[2] is None:
            del runs[depth]
        elif head >= _COMPACT_AT and head * 2 >= len(entries):
            del entries[:head]  # the consumed head goes: memory follows the queue down
            run[0] = 0
        else:
            entries[head - 1] = None  # the entry is gone before the run is compacted
            run[0] = head
        self._size -= 1
        self._meter.bytes -= len(entry) + ENTRY_COST
        return depth, entry

    def _refill(self, run: list) -> list[bytes]:
        assert self._store is not None
        chunks = run[2]
        entries = self._store.read(chunks.popleft())
        self._meter.bytes += _cost(entries)
        if not chunks:  # the last chunk: the tail follows it, and the run is whole again
            entries += run[3]
            run[2] = run[3] = None
        run[0], run[1] = 0, entries
        return entries

    def spill(self, keep: int, chunk: int, budget: int | None = None) -> int:
        """Move requests in memory to disk, the deepest and latest first, until ``budget``
        bytes are freed (None: all of them) but never the first ``keep`` in queue order (what
        the host hands out next); return the bytes freed. Chunks hold at most ``chunk``
        requests (what one refill brings back: at most ``keep``, so that a refill is not
        spilled again)."""
        assert self._store is not None and 0 < chunk <= max(keep, 1)
        runs = self._runs
        depths = sorted(runs)
        kept = {}  # depth -> how many of the run's memory head are among the first ``keep``
        for depth in depths:
            run = runs[depth]
            kept[depth] = min(len(run[1]) - run[0], keep)
            keep -= kept[depth]
        freed = 0
        for depth in reversed(depths):
            left = None if budget is None else budget - freed
            if left is not None and left <= 0:
                break
            run = runs[depth]
            tail = run[3]
            if tail:  # after the chunks: its first part can join them
                cut = _count_for(tail, left)
                freed += self._to_disk(run, tail[:cut], chunk, at_end=True)
                del tail[:cut]
                left = None if budget is None else budget - freed
                if left is not None and left <= 0:
                    break
            head, entries = run[0], run[1]
            start = head + kept[depth]
            if start < len(entries):  # its last part goes before the chunks
                cut = len(entries) - _count_for(entries[start:][::-1], left)
                moved = entries[cut:]
                del entries[cut:]
                freed += self._to_disk(run, moved, chunk, at_end=False)
                if head and head == len(entries):
                    run[0], run[1] = 0, []  # nothing of it in memory: drop the spent slots
        return freed

    def _to_disk(self, run: list, entries: list[bytes], chunk: int, *, at_end: bool) -> int:
        cost = _cost(entries)
        self._meter.bytes -= cost
        store = self._store
        assert store is not None
        written = [store.write(entries[at : at + chunk]) for at in range(0, len(entries), chunk)]
        if run[2] is None:
            run[2], run[3] = deque(written), []
        elif at_end:
            run[2].extend(written)
        else:
            run[2].extendleft(reversed(written))  # before what is on disk already
        return cost
