"""Pages a loop took from the frontier and holds until their host's turn comes.

A host's first page sends robots.txt first, and that request takes the start the frontier booked
for the page: with a delay (``--delay``, or the ``Crawl-delay`` it just read) the page itself
may go only a delay after robots.txt ended. Sleeping that out would keep the loop from every
other host meanwhile (on a list of many new hosts, a delay per host per loop). The loop holds
the page instead and goes on with other hosts' pages; the page stays in flight in the frontier
(so no other loop takes a page of its host, the crawl cannot end, a lease stays renewed) and
the loop fetches it once its turn has come, before asking the frontier for more. The host
clock still decides the page's start: a page taken a little early waits the rest there.
"""

from __future__ import annotations

import heapq
import itertools

from crawler.base import Request


class Held:
    """The pages one loop holds: each with the time (``time.monotonic()``) its host's turn
    comes and what its record must say of the host (``Fetched.note``)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Request, str | None]] = []
        self._order = itertools.count()  # ties in time keep the order held

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, turn: float, request: Request, note: str | None) -> None:
        """Hold ``request`` until ``turn``."""
        heapq.heappush(self._heap, (turn, next(self._order), request, note))

    def next_turn(self) -> float:
        """When the earliest held page's turn comes (some page is held)."""
        return self._heap[0][0]

    def take(self) -> tuple[Request, str | None]:
        """The earliest held page and its note, no longer held."""
        _, _, request, note = heapq.heappop(self._heap)
        return request, note

    def take_all(self) -> list[Request]:
        """Every held page, earliest first, none held any more."""
        pages = [entry[2] for entry in sorted(self._heap)]
        self._heap.clear()
        return pages
