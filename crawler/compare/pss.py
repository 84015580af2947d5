"""Peak memory of a process and its descendants (a crawl and every process it runs), together.

Sampled from ``/proc`` (Linux) on a thread of the caller while the process runs: the sum of the
processes' PSS (proportional set size: a page shared by N processes counts 1/N in each), so
forked children that share their parent's pages are not counted twice. A sample every 0.1 s
costs well under 1% of a core; a peak shorter than that can be missed. Where ``/proc`` has no
``smaps_rollup`` (not Linux), nothing is measured and ``mb`` is None.
"""

from __future__ import annotations

import os
import threading

INTERVAL_S = 0.1


def _children(pid: int) -> list[int]:
    found = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:  # the process ended meanwhile
        pass
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_pss_kb(root: int) -> int:
    """PSS of ``root`` and all its descendants, in KiB (0 where it cannot be read)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss_kb(pid)
        todo += _children(pid)
    return total


class PeakMemory:
    """``with PeakMemory(proc.pid) as peak: proc.wait()``; then ``peak.mb``."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="peak-memory", daemon=True)

    @property
    def mb(self) -> float | None:
        """The peak in MiB, or None if nothing could be measured."""
        return self.peak_kb / 1024 if self.peak_kb else None

    def _sample(self) -> None:
        while True:
            self.peak_kb = max(self.peak_kb, tree_pss_kb(self.root))
            if self._stop.wait(INTERVAL_S):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
