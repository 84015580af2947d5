"""The in-memory visited set of 16-byte URL fingerprints."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any


class MemoryVisited:
    """``claim_many`` is check-and-add in one step under the caller's lock."""

    def __init__(self, lock: Any = None) -> None:
        self._seen: set[bytes] = set()
        self._lock = lock if lock is not None else nullcontext()

    def claim_many(self, keys: Sequence[bytes]) -> list[bytes]:
        """Add ``keys``; return those not seen before, in order (duplicates in ``keys`` once)."""
        with self._lock:
            seen = self._seen
            fresh = []
            for key in keys:
                if key not in seen:
                    seen.add(key)
                    fresh.append(key)
            return fresh

    def __len__(self) -> int:
        return len(self._seen)
