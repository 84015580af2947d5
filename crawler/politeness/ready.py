"""The ready order of hosts: which host's page a frontier hands out next (pure, no lock).

Hosts with queued pages sit in one of two heaps: ``waiting``, keyed by when the host may next
start (``HostSchedule.ready_at``), and ``ready``, keyed by pages in flight. ``take`` moves every
host whose time has come from the first to the second and returns the ready host with the
fewest pages in flight (first come first among equals, so hosts take turns). A host at its
``per_host`` cap is parked until one of its pages finishes. Keys are checked again when popped
(a delay raised meanwhile sends the host back to ``waiting``), so nothing is ever re-sorted.

The store of the pages themselves is the backend's (a heap per host in memory, rows in SQLite):
it tells the order when a host gains work (``add``) and whether it has more after a hand-out.
"""

from __future__ import annotations

import heapq
import math
from itertools import count

from crawler.politeness.schedule import HostSchedule


class ReadyOrder:
    """Hosts with queued work, in the order their pages may be handed out."""

    def __init__(self, schedule: HostSchedule) -> None:
        self.schedule = schedule
        self._waiting: list[tuple[float, int, str]] = []
        self._ready: list[tuple[int, int, str]] = []
        self._listed: set[str] = set()  # in one of the heaps, or parked
        self._parked: set[str] = set()  # at the per-host cap
        self._seq = count()

    def __len__(self) -> int:
        return len(self._listed)

    def ready(self) -> int:
        """Hosts found ready by the last ``take`` and not handed out yet (an upper bound: some
        may turn out deferred or full when taken)."""
        return len(self._ready)

    def add(self, host: str) -> None:
        """``host`` has queued work (a no-op when it is listed already)."""
        if host not in self._listed:
            self._listed.add(host)
            heapq.heappush(self._waiting, (self.schedule.ready_at(host), next(self._seq), host))

    def take(self, now: float) -> tuple[str | None, float]:
        """The host to hand a page of out now, and 0.0; or None and the seconds until the
        earliest listed host is ready (``inf`` when every listed host is parked or none is)."""
        schedule, waiting, ready = self.schedule, self._waiting, self._ready
        while waiting and waiting[0][0] <= now:
            _, seq, host = heapq.heappop(waiting)
            heapq.heappush(ready, (schedule.in_flight(host), seq, host))
        while ready:
            _, seq, host = heapq.heappop(ready)
            at = schedule.ready_at(host)
            if at > now:  # deferred since it was listed
                heapq.heappush(waiting, (at, seq, host))
            elif schedule.full(host):
                self._parked.add(host)
            else:
                return host, 0.0
        if waiting:
            return None, max(0.0, waiting[0][0] - now)
        return None, math.inf

    def handed_out(self, host: str, more: bool) -> None:
        """A page of ``host`` (returned by ``take``) was handed out; ``more``: it has others."""
        if more:
            heapq.heappush(self._waiting, (self.schedule.ready_at(host), next(self._seq), host))
        else:
            self._listed.discard(host)

    def finished(self, host: str) -> bool:
        """A page of ``host`` is finished: a host parked at its cap is listed again (True)."""
        if host not in self._parked:
            return False
        self._parked.discard(host)
        heapq.heappush(self._waiting, (self.schedule.ready_at(host), next(self._seq), host))
        return True

    def drop(self, host: str) -> None:
        """``host`` has no queued work any more (its store emptied some other way)."""
        self._listed.discard(host)
        self._parked.discard(host)
