"""The Redis crawl's shared queue, with leases: what ``RedisBackend.frontier`` hands a loop.

``push_many`` claims and queues in one ``PUSH`` per chunk (the claim is the script's ``SADD``);
``pop`` leases an item from the host that is ready first, crawl-wide (``POP``, in Lua: lists
per host and a sorted set of ready times, ``scripts.py``). The loops of one process that wait
at the same moment share one ``POP``: one of them asks, for itself and for the others, while
they wait for its answer. The leases this frontier holds are counted in ``leases.py`` (the
backend's heartbeat renews them); a popped item that fails its checks ends in ``rejected.py``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING

from crawler.backends.checked import Rejected, RequestChecker
from crawler.backends.redis.items import decode_fields, encode_item, seen_member
from crawler.backends.redis.leases import Leases
from crawler.backends.redis.rejected import reject
from crawler.base import Request, Sync
from crawler.config import CrawlConfig
from crawler.links.urls import FINGERPRINT_BYTES, fingerprint
from crawler.politeness.schedule import host_key

if TYPE_CHECKING:
    from crawler.backends.redis.backend import RedisBackend

# The longest a loop sleeps before asking Redis again (a host ready later than this, or a loop
# waiting for its process's poller).
MAX_POLL_S = 0.5
# Polling an empty queue while leases are out: start fast, back off to this.
LEASE_POLL_S = 0.1
# Polling while every host with pages waiting is at its --per-host cap: steady, so that every
# worker has its chance when a slot frees.
CAPPED_POLL_S = 0.02
# Items per PUSH call. Redis runs one command or script at a time for every
# client: one PUSH of a million seeds took ~4.6 s, and past ``lua-time-limit`` (5 s) the
# other workers' commands are answered BUSY. 5,000 items take ~15 ms.
CHUNK = 5_000


class RedisFrontier:
    """The crawl's shared queue with leases. ``pop`` returns None only when nothing is queued
    and no lease is outstanding anywhere, or once this frontier is closed.

    One loop of the process at a time asks Redis (``_asking``); the loops that come to ``pop``
    meanwhile wait for its answer, and its ``POP`` leases one item for it and one for each of
    them (``_buffer``, taken in turn). While no host is ready, that loop polls and the others
    wait: a host getting ready costs one ``POP``, not one per loop.
    """

    def __init__(self, backend: RedisBackend, sync: Sync, config: CrawlConfig) -> None:
        self.backend = backend
        self.state = backend.state
        self.lease_ms = int(config.lease_seconds * 1000)
        self.budget = -1 if config.max_pages is None else config.max_pages
        self.host_budget = -1 if config.max_pages_per_host is None else config.max_pages_per_host
        self.cap = -1 if config.per_host is None else config.per_host
        self.delay_ms = int(config.delay * 1000)
        self.robots = 1 if config.robots else 0  # a host's first page alone (``POP``)
        self.leases = Leases(sync.lock())  # renewed by the backend's heartbeat
        self._cond = sync.condition()
        # The asking loop's sleep while no host is ready: a push of this process ends it.
        self._nudge = sync.condition()
        self._nudged = False
        self._asking: int | None = None  # the loop of this process now asking Redis
        self._waiting = 0  # loops waiting for its answer
        self._buffer: deque[bytes] = deque()  # leased for the waiting loops, not yet taken
        self.closed = False
        self.checker = RequestChecker(config)
        self.mode = config.mode

    def push_many(self, requests: Iterable[Request]) -> int:
        """Claim and queue the requests not yet seen by the crawl, each in its host's list (one
        script per chunk), within the ``max_pages`` and ``max_pages_per_host`` budgets."""
        # Accepted even after ``close``: a page still in flight must keep the links it found,
        # or a resumed crawl would never reach them (its record says it is done).
        items, fps = [], []
        for r in requests:
            item = encode_item(r)
            fp = item[:FINGERPRINT_BYTES]
            items.append(b"%s\n%s\n%s" % (host_key(r.url).encode(), seen_member(fp).encode(), item))
            fps.append(fp)
        added = 0
        head = [self.state.prefix, self.budget, self.host_budget]
        for start in range(0, len(items), CHUNK):
            added += int(self.state.run("PUSH", (), [*head, *items[start : start + CHUNK]]))
            # Claimed now (or beyond --max-pages, which only ever fills up): not sent again.
            self.backend.claimed.update(fps[start : start + CHUNK])
        if added and self._asking is not None:
            with self._nudge:  # the loop polling for work asks again now
                self._nudged = True
                self._nudge.notify()
        return added

    def pop(self, timeout: float | None = None) -> Request | None:
        """Lease the next request whose host may start now (crawl-wide: the ready order is in
        Redis); wait while no host is ready, or nothing is queued but leases are out.

        A caller that itself holds leases (one thread popping batches for others, as a process
        pool's parent does) is never made to wait for an empty queue: it would wait for itself.
        It gets None and may pop again once it has pushed its pages' links.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        me = threading.get_ident()
        wait = 0.02
        while True:
            item = self._turn(me, deadline)
            if item is _GIVE_UP:
                return None
            if item is not None:
                request = self._take(item)
                if request is not None:
                    return request
                continue
            # This loop asks Redis, for itself and for every loop waiting now.
            if self.state.lost is not None:  # found by another loop, or the heartbeat
                self._stop_asking()
                raise self.state.lost
            with self._cond:  # (a waiting loop counts itself out and in under this lock)
                count = 1 + self._waiting
            items, ms, queued, timed = self._ask(count)
            if items:
                with self._cond:
                    self._buffer.extend(items[1:])
                    self._asking = None
                    # A loop for each item, and one more to ask next (if any is waiting):
                    # waking every waiting loop for each answer costs more than the answer.
                    self._cond.notify(len(items))
                request = self._take(items[0])
                if request is not None:
                    return request
                continue
            if not queued and ms < 0:
                # Nothing queued, nothing leased: finished, or the crawl's keys are gone.
                self._stop_asking()
                self.state.check_marker()
                return None
            if timed:  # a host gets ready in ms: be there (other workers may be first)
                pause = min(ms / 1000, MAX_POLL_S)
            elif queued:  # every host with pages is at its cap: a slot frees at any time
                pause = CAPPED_POLL_S
            else:  # leases out: they finish (pushing links) or expire
                pause = min(wait, max(ms, 10) / 1000)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._stop_asking()
                    return None
                pause = min(pause, left)
            with self._nudge:  # still asking: a push of this process wakes it early
                if not self._nudged and not self.closed:
                    self._nudge.wait(pause)
                self._nudged = False
            # One loop per process polls, so it can afford to poll often: the end of a crawl
            # is noticed soon after the last lease ends.
            wait = min(wait * 2, LEASE_POLL_S)

    def _turn(self, me: int, deadline: float | None) -> bytes | object | None:
        """A leased item for this loop, None when it is this loop's turn to ask Redis, or
        ``_GIVE_UP`` (closed, or past ``deadline``)."""
        with self._cond:
            while True:
                if self.closed:
                    if self._asking == me:
                        self._asking = None
                    self._cond.notify_all()
                    return _GIVE_UP
                if self._buffer:
                    return self._buffer.popleft()
                if self._asking is None or self._asking == me:
                    self._asking = me
                    return None
                left = MAX_POLL_S
                if deadline is not None:
                    left = min(left, deadline - time.monotonic())
                    if left <= 0:
                        return _GIVE_UP
                self._waiting += 1
                try:
                    self._cond.wait(left)  # woken when the asking loop has an answer
                finally:
                    self._waiting -= 1

    def _stop_asking(self) -> None:
        """This loop is done asking: a waiting one takes over (and learns the news itself)."""
        with self._cond:
            self._asking = None
            self._cond.notify()

    def _ask(self, count: int) -> tuple[list[bytes], int, int, int]:
        """One ``POP`` for ``count`` items, carrying this process's stored records."""
        outbox = self.backend.outbox.take()
        args = [self.state.prefix, self.lease_ms, self.cap, self.delay_ms, count, self.robots]
        args += outbox
        try:
            ms, queued, timed, *pairs = self.state.run("POP", (), args)
        except BaseException:
            self.backend.outbox.restore(outbox)
            self._stop_asking()
            raise
        items = pairs[::2]
        if items:
            # busy: its host's one page out, whose end ``done`` tells the schedule.
            leased = zip(items, pairs[1::2], strict=True)
            self.leases.add((item[:FINGERPRINT_BYTES], bool(int(busy))) for item, busy in leased)
            self.backend.claimed.update(item[:FINGERPRINT_BYTES] for item in items)
            self.backend.heartbeat()
        return items, int(ms), int(queued), int(timed)

    def _take(self, item: bytes) -> Request | None:
        """The request of a leased item, now this loop's; None if it failed its checks (it
        then has its ``rejected`` record)."""
        try:
            request = self.checker.check_fields(item[:FINGERPRINT_BYTES], *decode_fields(item))
        except (ValueError, TypeError) as exc:
            why = exc if isinstance(exc, Rejected) else f"not a queued request ({exc})"
            self.leases.release(item[:FINGERPRINT_BYTES])
            reject(self.state, item, str(why), mode=self.mode, delay_ms=self.delay_ms)
            return None
        return request

    def done(self, request: Request, ago: float = 0.0) -> None:
        """Stop renewing the lease; the record sink ends it when it stores the record. A page
        out as its host's one page (the host has a delay) ends now (``ago`` seconds before the
        server's now) for the schedule: the host's next start is a delay from then, without
        waiting for the record's turn."""
        fp = fingerprint(request.url)
        if self.leases.end(fp):
            host = host_key(request.url)
            ago_ms = max(0, int(ago * 1000))
            self.state.run("ENDED", (), [self.state.prefix, host, fp, self.delay_ms, ago_ms])

    def close(self) -> None:
        """Pop nothing more in this frontier; the crawl goes on for other workers. Items
        leased for loops that never took them go back to the queue (with the next send)."""
        with self._cond:
            self.closed = True
            left, self._buffer = list(self._buffer), deque()
            self._cond.notify_all()
        with self._nudge:
            self._nudge.notify_all()
        for item in left:
            fp = item[:FINGERPRINT_BYTES]
            self.backend.outbox.put(fp, b"", "1")
            self.leases.release(fp)

    def snapshot(self) -> dict[str, int]:
        """Crawl-wide counts from Redis: queued, leased (in flight on any worker), skipped."""
        counts = self.state.counters(wait=False)
        return {
            "queued": counts["queued"],
            "in_flight": counts["leased"],
            "skipped": counts["skipped"],
        }

    def held(self) -> list[bytes]:
        """Fingerprints of the leases held here (in flight, or leased and not yet taken)."""
        return self.leases.held()


_GIVE_UP = object()
