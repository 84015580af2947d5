"""A child's memory of the URLs the crawl has claimed, in front of the manager's visited set.

A page of a big site links mostly to pages the crawl already has: large-0's ~300 links a page
point at ~315 URLs in all. Each batch's claim was a round trip to the manager with every
distinct key of the batch, and the answer was almost always "none new". Where the visited set
claims for good (``Backend.claims_in_visited``: every key it has been asked about is claimed
from then on), a child remembers the keys it asked about and sends only the others; a batch
whose links the child has all seen costs no round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import filterfalse
from typing import Any

# Keys remembered at most (16 bytes each, ~80 with the set's overhead: ~5 MB). Past it the
# memory starts afresh: the links a site repeats on every page are back after a few pages.
KNOWN_KEYS = 1 << 16


class KnownVisited:
    """``visited`` (a visited set that claims for good), asked only about keys this process
    has not asked about before."""

    def __init__(self, visited: Any, limit: int = KNOWN_KEYS) -> None:
        self._visited = visited
        self._known: set[bytes] = set()
        self._limit = limit

    def claim_many(self, keys: Sequence[bytes]) -> list[bytes]:
        """Those of ``keys`` not yet claimed, in order, each once (``Visited.claim_many``)."""
        known = self._known
        unknown = list(filterfalse(known.__contains__, keys))
        if not unknown:
            return []
        fresh = self._visited.claim_many(unknown)
        # Remembered once the answer is in: a call that fails (the manager gone) teaches none.
        if len(known) + len(unknown) > self._limit:
            known.clear()
        known.update(unknown)
        return fresh

    def __len__(self) -> int:
        return len(self._visited)
