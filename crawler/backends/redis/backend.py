"""The Redis backend: one crawl shared by many processes and machines through a Redis server.

Every worker started with the same ``--backend`` URL and ``--crawl-id`` works on the same
crawl, in any mode. A popped URL is *leased*, not removed: the worker's heartbeat keeps the
lease alive while the page is in flight, and a worker that dies lets it expire, after which any
worker's next pop queues it again. A URL's lease ends only when its record is stored (one Lua
script, ``HSETNX``), so each URL ends with exactly one record. Key layout and scripts:
``crawler/backends/redis/scripts.py``; compact items and the seen set: ``items.py``.

Round trips: the loops of a process that wait for work at the same moment share one ``POP``
(it leases as many items as loops are waiting), and that call also stores the records and page
states written since the previous one (``outbox.py``: the record sink and the page store only
queue them); what no ``POP`` took within ``outbox.FLUSH_S`` is sent by the heartbeat. A page
costs its share of a ``POP`` and, if it found links this process does not know are claimed
(``Claimed``, ``visited.py``), the ``PUSH`` of those (which claims them: no separate check).
Figures: docs/scaling.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from crawler.backends.checked import Rejected, RequestChecker
from crawler.backends.codec import encode_record, record_key, scope_mismatch, scope_of
from crawler.backends.redis import outbox as outboxes
from crawler.backends.redis.items import FORMAT, decode_fields, encode_item, seen_member
from crawler.backends.redis.politeness import RedisHostClock, RedisRobotsCache
from crawler.backends.redis.state import RedisState
from crawler.backends.redis.visited import Claimed, RedisVisited
from crawler.base import Request, Sync
from crawler.config import CrawlConfig
from crawler.errors import BackendError
from crawler.links.urls import FINGERPRINT_BYTES, fingerprint
from crawler.politeness.schedule import Pace, host_key
from crawler.record import EncodedRecord, Record
from crawler.safetext import escape_surrogates

log = logging.getLogger(__name__)

# The longest a loop sleeps before asking Redis again (a host ready later than this, or a loop
# waiting for its process's poller).
MAX_POLL_S = 0.5
# Polling an empty queue while leases are out: start fast, back off to this.
LEASE_POLL_S = 0.1
# Polling while every host with pages waiting is at its --per-host cap: steady, so that every
# worker has its chance when a slot frees.
CAPPED_POLL_S = 0.02
# The heartbeat's sleep while nothing waits to be sent (it renews leases every lease / 3).
IDLE_BEAT_S = 0.5
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
        self._lock = sync.lock()
        self._cond = sync.condition()
        # The asking loop's sleep while no host is ready: a push of this process ends it.
        self._nudge = sync.condition()
        self._nudged = False
        self._asking: int | None = None  # the loop of this process now asking Redis
        self._waiting = 0  # loops waiting for its answer
        self._buffer: deque[bytes] = deque()  # leased for the waiting loops, not yet taken
        self._held: dict[bytes, int] = {}  # fingerprint -> leases held here (taken or not)
        self._busy: set[bytes] = set()  # fingerprints of pages out as their host's one page
        self.closed = False
        self.checker = RequestChecker(config)
        self.mode = config.mode

    def _reject(self, item: bytes, why: str) -> None:
        """End a popped item that fails re-validation: never fetched, it gets a ``rejected``
        record in the crawl (ending its lease, freeing its host) and is counted in the crawl's
        ``rejected``."""
        shown = shown_item(item)
        log.warning("redis: rejected a queued item (%s): %s", why, shown[:200])
        record = Record(url=shown, error="rejected", detail=why, mode=self.mode)
        self.state.run(
            "COMPLETE",
            (),
            [
                self.state.prefix,
                item[:FINGERPRINT_BYTES],
                encode_record(record),
                "0",
                self.delay_ms,
            ],
        )
        self.state.call("hincrby", self.state.key("stats"), "rejected", 1)

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
        args = [self.state.prefix, self.lease_ms, self.cap, self.delay_ms, count, *outbox]
        try:
            ms, queued, timed, *pairs = self.state.run("POP", (), args)
        except BaseException:
            self.backend.outbox.restore(outbox)
            self._stop_asking()
            raise
        items = pairs[::2]
        if items:
            with self._lock:
                for item, busy in zip(items, pairs[1::2], strict=True):
                    _bump(self._held, item[:FINGERPRINT_BYTES], +1)
                    if int(busy):  # its host's one page out: tell its end (``done``)
                        self._busy.add(item[:FINGERPRINT_BYTES])
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
            with self._lock:
                _bump(self._held, item[:FINGERPRINT_BYTES], -1)
            self._reject(item, str(why))
            return None
        return request

    def done(self, request: Request, ago: float = 0.0) -> None:
        """Stop renewing the lease; the record sink ends it when it stores the record. A page
        out as its host's one page (the host has a delay) ends now (``ago`` seconds before the
        server's now) for the schedule: the host's next start is a delay from then, without
        waiting for the record's turn."""
        fp = fingerprint(request.url)
        with self._lock:
            _bump(self._held, fp, -1)
            busy = fp in self._busy
            self._busy.discard(fp)
        if busy:
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
            with self._lock:
                _bump(self._held, fp, -1)

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
        with self._lock:
            return list(self._held)


_GIVE_UP = object()


def shown_item(item: bytes) -> str:
    """The URL of a rejected item as its record shows it: its URL if it has one, else its
    raw text; escaped and cut to 2,000 characters (it is hostile data)."""
    try:
        text = decode_fields(item)[0]
    except (ValueError, TypeError):
        text = item[FINGERPRINT_BYTES:].decode("utf-8", "replace")
    return escape_surrogates(text[:2000])


def _bump(counts: dict[Any, int], key: Any, delta: int) -> None:
    count = counts.get(key, 0) + delta
    if count > 0:
        counts[key] = count
    else:
        counts.pop(key, None)


class RedisRecordSink:
    """Stores each record in the crawl and ends its URL's lease, atomically (``complete``):
    records are queued in the backend's ``Outbox`` and go with this process's next ``POP``
    (or the heartbeat's send, within ``outbox.FLUSH_S``); ``close`` sends what is left."""

    def __init__(self, backend: RedisBackend) -> None:
        self.backend = backend

    def write(self, record: Record | EncodedRecord) -> None:
        """Keep the record (the first one per URL wins); an ``interrupted`` page instead goes
        back to the queue without a record, so a resumed crawl fetches it."""
        release = "1" if record.error == "interrupted" else "0"
        self.backend.outbox.put(record_key(record), encode_record(record), release)
        if self.backend.outbox.due():
            self.backend.flush()

    # The key and the stored JSON come from the fields an encoded record carries.
    write_encoded = write

    def close(self) -> None:
        """Send the records still queued."""
        self.backend.flush()


class RedisBackend:
    """Crawl state in a Redis server, shared by every worker with the same crawl id."""

    name = "redis"
    shared = True
    durable = True

    def __init__(self, config: CrawlConfig) -> None:
        assert config.backend is not None
        self.config = config
        self.state = RedisState(config.backend, config.crawl_id, retry=config.backend_retry)
        self._frontiers: list[RedisFrontier] = []
        self.claimed = Claimed()  # shared by this backend's visited sets and frontiers
        self.outbox = outboxes.outbox_for(config.backend, config.crawl_id)
        self.outbox.delay_ms = int(config.delay * 1000)  # a record ends its page: unbusy
        self._flush_lock = threading.Lock()
        self._beat: threading.Thread | None = None
        self._beat_lock = threading.Lock()
        self._quit = threading.Event()
        self._check_scope()

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # reconnect in the new process

    def _check_scope(self) -> None:
        """Store the scope at the crawl's first start; refuse a worker that disagrees."""
        mine = scope_of(self.config)
        key = self.state.key("config")
        try:
            # Written by the crawl's first worker: the scope, the layout of the crawl's keys,
            # and the crawl's marker.
            self.state.call("set", key, json.dumps({**mine, "format": FORMAT}), nx=True)
            stored = json.loads(self.state.call("get", key))
        except BackendError as exc:
            raise BackendError(f"cannot use {exc}") from None
        self.state.marked = True
        found = stored.get("format", 1)
        if found != FORMAT:
            # The first release kept JSON items and one set of fingerprints; reading them as
            # this layout would lose the crawl's queue, so it is refused, not converted.
            raise BackendError(
                f"crawl {self.config.crawl_id!r} in redis {self.state.shown} was written by "
                f"another version of crawler (state format {found}, this one uses {FORMAT}): "
                "finish it with that version, or use another --crawl-id"
            )
        problem = scope_mismatch(stored, mine)
        if problem:
            raise BackendError(
                f"crawl {self.config.crawl_id!r} was started with other scope options: "
                f"{problem} (use the same options, or another --crawl-id)"
            )

    def frontier(self, config: CrawlConfig, sync: Sync) -> RedisFrontier:
        """A handle on the shared queue; its leases are renewed by this process's heartbeat."""
        frontier = RedisFrontier(self, sync, config)
        self._frontiers.append(frontier)
        return frontier

    def visited(self, config: CrawlConfig, sync: Sync) -> RedisVisited:
        """A handle on the shared visited set."""
        return RedisVisited(self.state, self.claimed)

    def host_clock(self, config: CrawlConfig, sync: Sync) -> RedisHostClock:
        """``--delay`` and ``--per-host`` across every worker of the crawl."""
        # The frontier caps pages per host (it counts leases), so the clock needs no slots.
        return RedisHostClock(self.state, sync.lock(), pace=Pace.of(config))

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> RedisRobotsCache:
        """robots.txt entries shared by every worker of the crawl."""
        return RedisRobotsCache(self.state)

    def record_sink(self, config: CrawlConfig) -> RedisRecordSink:
        """Records into the crawl (``crawl results`` exports them), ending their leases."""
        self.heartbeat()  # it sends the records no POP took
        return RedisRecordSink(self)

    def heartbeat(self) -> None:
        """Start (once per process) the thread that renews this process's leases."""
        if self._beat is not None and self._beat.is_alive():
            return
        with self._beat_lock:
            if self._beat is None or not self._beat.is_alive():
                beat = threading.Thread(target=self._renew, name="lease-heartbeat", daemon=True)
                beat.start()
                self._beat = beat

    def flush(self) -> None:
        """Send the queued records and page states now (a ``POP`` that leases nothing)."""
        with self._flush_lock:
            self.outbox.send(self.state)

    def _renew(self) -> None:
        interval = self.config.lease_seconds / 3
        lease_ms = int(self.config.lease_seconds * 1000)
        renewed = time.monotonic()
        # Awake every FLUSH_S only while something waits in the outbox; idle, it sleeps longer
        # (a record queued meanwhile goes with the next POP, or the sink's next write).
        while not self._quit.wait(
            outboxes.FLUSH_S if self.outbox.waiting() else min(interval, IDLE_BEAT_S)
        ):
            try:
                if self.outbox.due():
                    self.flush()
                if time.monotonic() - renewed < interval:
                    continue
                renewed = time.monotonic()
                held = [fp for frontier in self._frontiers for fp in frontier.held()]
                held += self.outbox.held()
                if held:
                    self.state.run("RENEW", ("leases",), [lease_ms, *held])
                    self.state.check_marker()
            except BackendError:
                # Lost keys: the loops' next pop raises it (``state.lost``). Unreachable
                # past --backend-retry: the loops' own calls say so.
                pass

    def close(self) -> None:
        """Send the queued records, stop the heartbeat (no thread left behind) and drop the
        connections."""
        self._quit.set()
        if self._beat is not None:
            self._beat.join(5)
        # Unreachable: their leases expire and the pages are fetched again.
        with contextlib.suppress(BackendError):
            self.flush()
        self.state.client.close()
