"""The in-memory robots.txt cache: plain entries per origin, shared by the loops of one process."""

from __future__ import annotations

from typing import Any

from crawler.politeness.robots import RobotsEntry


class MemoryRobotsCache:
    """``RobotsCache`` for loops that share one process; the caller brings the condition."""

    def __init__(self, condition: Any) -> None:
        self._cond = condition
        self._entries: dict[str, RobotsEntry] = {}
        self._claimed: set[str] = set()

    def get(self, origin: str) -> RobotsEntry | None:
        """The stored entry, or None."""
        return self._entries.get(origin)

    def claim(self, origin: str) -> bool:
        """True for the first caller per origin."""
        with self._cond:
            if origin in self._claimed:
                return False
            self._claimed.add(origin)
            return True

    def put(self, origin: str, entry: RobotsEntry) -> None:
        """Store the entry and wake the waiters."""
        with self._cond:
            self._entries[origin] = entry
            self._cond.notify_all()

    def release(self, origin: str) -> None:
        """Give up a claim without an entry; wake the waiters so one of them claims it."""
        with self._cond:
            self._claimed.discard(origin)
            self._cond.notify_all()

    def wait(self, origin: str, timeout: float) -> RobotsEntry | None:
        """Wait up to ``timeout`` for the entry."""
        with self._cond:
            if origin not in self._entries:
                self._cond.wait(timeout)
            return self._entries.get(origin)
