"""The in-memory frontier: a queue per host, handed out in the hosts' ready order, knowing when
the crawl is over.

The caller brings the condition variable (``threading.Condition`` for threads, the same class
once gevent has patched it for greenlets, a no-op one for a single loop), so this module
imports no concurrency library. The ready order and the host timing are shared pure classes
(``crawler/politeness/ready.py``, ``schedule.py``); the schedule is the one the crawl's host
clock books extra requests on, so both see the same host timeline. Queued requests are kept
packed, one ``bytes`` each (``packed.py``): what a million queued URLs cost is their URLs.

With ``spill_above`` (bytes), queued requests beyond it go to segment files on disk
(``spill.py``): each host keeps its next few requests in memory, the rest of its queue (the
deepest and latest first) waits on disk and comes back in order as the host's memory part
drains (``host_queue.py``). Nothing else changes: the same pages in the same order.
"""

from __future__ import annotations

import _thread
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

from crawler.backends.memory.host_queue import HostQueue, Meter
from crawler.backends.memory.packed import origin_prefix, pack, unpack
from crawler.backends.memory.spill import SpillStore
from crawler.base import Request
from crawler.politeness.ready import ReadyOrder
from crawler.politeness.schedule import HostSchedule, host_key


class MemoryFrontier:
    """Frontier for loops that share one process.

    Invariants: finished when nothing is queued and nothing is in flight; ``pop`` hands out
    only a page whose host may start now (its delay, ``per_host`` cap and Crawl-delay
    respected), waits only while no host is ready (and only until the earliest one is) or
    while the queue is empty but another loop may still push links. Within a host, pages go
    breadth-first (by depth, then first queued). A loop whose last host may start again at
    once (no delay) and has nothing in flight but that loop's own last page gets it again: its
    connection is open, and new connections per host are what a many-host crawl pays.

    ``keep_hosts=False``: for a caller that pops on behalf of loops elsewhere (a processes
    parent). Its next pop does not follow a fetch of its last page, so keeping it on that host
    would only put two pages of one host out at once (two connections, and past a
    ``per_host`` cap of 1).

    ``spill_above``: once the queued requests in memory pass this many bytes (estimated),
    the deepest and latest of them move to a temporary directory (never a host's next few);
    ``release`` removes it (and so does the store's finaliser, should it never come).
    """

    def __init__(
        self,
        condition: Any,
        *,
        max_pages: int | None = None,
        schedule: HostSchedule | None = None,
        max_pages_per_host: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        spill_above: int | None = None,
        spill_dir: str | None = None,
        keep_hosts: bool = True,
    ) -> None:
        self._cond = condition
        self.schedule = schedule if schedule is not None else HostSchedule()
        self._order = ReadyOrder(self.schedule)
        self._queues: dict[str, HostQueue] = {}
        self._queued = 0
        self._in_flight = 0
        self._accepted = 0
        self._budget = max_pages
        self._host_budget = max_pages_per_host
        self._per_host: dict[str, int] = {}  # pages accepted per host (with a host budget)
        self._skipped = 0
        self._clock = clock
        self._timer = False  # a loop is waiting for the earliest host to get ready
        # Each loop's last host (by thread, or greenlet once gevent patched): a loop whose host
        # may start again right away (no delay) keeps it, and reuses its open connection.
        self._sticky: dict[int, tuple[str, str]] = {}  # loop -> (host, URL) it last took
        self._keep_hosts = keep_hosts
        self._flying: set[str] = set()  # URLs handed out and not done
        self.closed = False
        self._meter = Meter()  # bytes of queued requests in memory
        self._store = SpillStore(parent=spill_dir) if spill_above else None
        self._spill_above = spill_above or 0
        self._spill_at = self._spill_above  # the next spill, once memory passes it
        self.spills = 0
        self._spill_turn = 0  # the host (by position) the next spill starts with

    @property
    def queued_bytes(self) -> int:
        """Estimated bytes of the queued requests held in memory (the rest is on disk)."""
        return self._meter.bytes

    @property
    def spilled_bytes(self) -> int:
        """Bytes written to disk so far (requests read back and spilled again count twice)."""
        return self._store.bytes_written if self._store is not None else 0

    def push_many(self, requests: Iterable[Request]) -> int:
        """Queue requests up to the ``max_pages`` and ``max_pages_per_host`` budgets; return
        how many were accepted (the others beyond a host's budget count as ``skipped``)."""
        with self._cond:
            if self.closed:
                return 0
            added = 0
            budget, host_budget = self._budget, self._host_budget
            for request in requests:
                if budget is not None and self._accepted + added >= budget:
                    break
                host = host_key(request.url)
                if host_budget is not None:
                    taken = self._per_host.get(host, 0)
                    if taken >= host_budget:
                        self._skipped += 1
                        continue
                    self._per_host[host] = taken + 1
                queue = self._queues.get(host)
                if queue is None:
                    prefix = origin_prefix(request.url)
                    queue = self._queues[host] = HostQueue(prefix, self._meter, self._store)
                    self._order.add(host)
                queue.push(request.depth, pack(request, host, queue.prefix))
                added += 1
            self._accepted += added
            self._queued += added
            if self._store is not None and self._meter.bytes > self._spill_at:
                self._spill()
            if added:
                self._cond.notify_all()
            return added

    def _spill(self) -> None:
        """Requests to disk, the deepest and latest of each host first, host after host in
        turn, until the queue in memory is an eighth under the bound: each spill writes about
        that much (a pause of its own, however big the bound), and a host's tail grows for a
        whole turn before it is written again (chunks stay full)."""
        # Requests each host keeps in memory, and the size of a chunk on disk (what one refill
        # brings back, so never more than is kept): 4 to 64, so that what the hosts keep
        # takes at most about a quarter of the bound (at ~128 bytes a request).
        queues = list(self._queues.values())
        bound = self._spill_above
        keep = max(4, min(64, bound // (512 * max(1, len(queues)))))
        need = self._meter.bytes - (bound - bound // 8)
        start = self._spill_turn % max(1, len(queues))
        for queue in queues[start:] + queues[:start]:
            need -= queue.spill(keep, keep, need)
            start += 1
            if need <= 0:
                break
        self._spill_turn = start
        self.spills += 1
        # What stays is each host's head: with very many hosts that alone may pass the bound,
        # and spilling again at every push would move nothing but cost a pass over the hosts.
        self._spill_at = max(bound, self._meter.bytes + bound // 8)

    def pop(self, timeout: float | None = None) -> Request | None:
        """The next request whose host may start now; waits while no host is ready or others
        are in flight. None when finished or closed, or once ``timeout`` seconds passed."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while True:
                if self.closed:
                    return None
                now = self._clock()
                me = _thread.get_ident()
                last = self._sticky.get(me) if self._keep_hosts else None
                if last is not None and self._may_keep(last, now):
                    # The calling loop's last host, still ready: its connection is open.
                    return self._hand_out(last[0], now, me, listed=False)
                host, wait = self._order.take(now)
                if host is not None and host not in self._queues:
                    self._order.handed_out(host, False)  # emptied by a sticky hand-out
                    continue
                if host is not None:
                    if not self._timer:
                        # Pass the baton: a waiting loop for each other ready host (all at
                        # once: one after another, each would wait for the one before it to
                        # run), or one that becomes the loop watching the clock.
                        self._cond.notify(max(1, self._order.ready()))
                    return self._hand_out(host, now, me)
                if self._queued == 0 and self._in_flight == 0:
                    return None
                if deadline is not None:
                    left = deadline - now
                    if left <= 0:
                        return None
                    self._cond.wait(min(wait, left))
                elif math.isinf(wait) or self._timer:
                    # Woken by a push, a finished page (a host under its cap), close, or a
                    # loop that took a host.
                    self._cond.wait()
                else:
                    # One loop waits for the earliest host, the others for it: a host getting
                    # ready wakes one loop, not all of them.
                    self._timer = True
                    try:
                        self._cond.wait(wait)
                    finally:
                        self._timer = False

    def _may_keep(self, last: tuple[str, str], now: float) -> bool:
        # Only a host whose sole page in flight is the loop's own (fetched already, since the
        # loop asks for more) may skip the order: it is then as idle as a host can be.
        host, url = last
        schedule = self.schedule
        if host not in self._queues or schedule.delay(host) > 0 or schedule.ready_at(host) > now:
            return False
        flying = schedule.in_flight(host)
        return flying == 0 or (flying == 1 and url in self._flying)

    def _hand_out(self, host: str, now: float, me: int, *, listed: bool = True) -> Request:
        """Hand out ``host``'s next page. ``listed``: ``host`` came from the ready order (else
        its entry there stays, and is dropped when found empty)."""
        queue = self._queues[host]
        depth, entry = queue.pop()
        request = unpack(entry, depth, host, queue.prefix)
        if not queue:
            del self._queues[host]
        self.schedule.hand_out(host, now)
        if listed:
            self._order.handed_out(host, bool(queue))
        self._sticky[me] = (host, request.url)
        self._flying.add(request.url)
        self._queued -= 1
        self._in_flight += 1
        return request

    def done(self, request: Request, ago: float = 0.0) -> None:
        """Mark one popped request finished, its last request ``ago`` seconds ago: its host's
        slot is free again."""
        host = host_key(request.url)
        with self._cond:
            self._in_flight -= 1
            self._flying.discard(request.url)
            self.schedule.finish(host, self._clock() - ago)
            if self._order.finished(host) or (self._in_flight == 0 and self._queued == 0):
                self._cond.notify_all()

    def close(self) -> None:
        """Hand out nothing more; queued requests stay queued but are not popped."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def release(self) -> None:
        """Close, and delete the requests on disk: the crawl is over (the backend's
        ``close``, once every loop has returned). Not in ``close``, which may come from any
        thread (``Crawler.stop``) while a loop that needs no lock (a processes parent) is
        reading the files."""
        self.close()
        if self._store is not None:
            self._store.close()

    def snapshot(self) -> dict[str, int]:
        """Counts for progress and health: queued, in flight, scheduled in total, skipped, and
        spilled (requests written to disk so far, past ``spill_above``)."""
        with self._cond:
            return {
                "queued": self._queued,
                "in_flight": self._in_flight,
                "scheduled": self._accepted,
                "skipped": self._skipped,
                "spilled": self._store.entries_written if self._store is not None else 0,
            }
