"""Peak memory of a crawl: every process it runs (parent, pool children, manager), together.

Sampled from ``/proc`` (Linux) on a thread of the benchmark while the crawl runs: the sum of
the processes' PSS (proportional set size: a page shared by N processes counts 1/N in each),
so forked children that share their parent's pages are not counted twice. A sample every
0.1 s costs the benchmark well under 1% of a core; a peak shorter than that can be missed.
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


def tree_pss_kb(root: int, exclude: frozenset[int] = frozenset()) -> int:
    """PSS of ``root``'s descendants (not ``root`` itself), skipping ``exclude`` subtrees."""
    total, todo = 0, [c for c in _children(root) if c not in exclude]
    while todo:
        pid = todo.pop()
        total += _pss_kb(pid)
        todo += [c for c in _children(pid) if c not in exclude]
    return total


class PeakMemory:
    """``with PeakMemory(exclude={site_pid}) as peak: run the crawl``; then ``peak.mb``."""

    def __init__(self, exclude: frozenset[int] = frozenset()) -> None:
        self.exclude = exclude
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-memory", daemon=True)

    @property
    def mb(self) -> float:
        """The peak, in MiB."""
        return self.peak_kb / 1024

    def _sample(self) -> None:
        root = os.getpid()
        while True:
            self.peak_kb = max(self.peak_kb, tree_pss_kb(root, self.exclude))
            if self._stop.wait(INTERVAL_S):
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
