"""The in-memory visited set: URL fingerprints in a compact hash table (``fingerprints.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from crawler.backends.memory.fingerprints import FingerprintSet


class MemoryVisited:
    """``claim_many`` is check-and-add in one step under the caller's lock.

    Keys are the 16-byte URL fingerprints; 96 bits of each are kept (``FingerprintSet`` says
    what that costs and how unlikely a lost URL is)."""

    def __init__(self, lock: Any = None) -> None:
        self._seen = FingerprintSet()
        self._lock = lock if lock is not None else nullcontext()

    def claim_many(self, keys: Sequence[bytes]) -> list[bytes]:
        """Add ``keys``; return those not seen before, in order (duplicates in ``keys`` once)."""
        with self._lock:
            return self._seen.add_many(keys)

    def __len__(self) -> int:
        return len(self._seen)
