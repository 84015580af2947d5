"""The Redis backend: one crawl shared by many processes and machines through a Redis server.

Every worker started with the same ``--backend`` URL and ``--crawl-id`` works on the same
crawl, in any mode. A popped URL is *leased*, not removed: the worker's heartbeat keeps the
lease alive while the page is in flight, and a worker that dies lets it expire, after which any
worker's next pop queues it again. A URL's lease ends only when its record is stored (one Lua
script, ``HSETNX``), so each URL ends with exactly one record. Key layout and scripts:
``crawler/backends/redis/scripts.py``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from crawler.backends.checked import Rejected, RequestChecker, shown_url
from crawler.backends.codec import (
    encode_record,
    encode_request,
    record_key,
    scope_mismatch,
    scope_of,
)
from crawler.backends.redis.politeness import RedisHostClock, RedisRobotsCache
from crawler.backends.redis.state import RedisState
from crawler.base import Request, Sync
from crawler.config import CrawlConfig
from crawler.errors import BackendError
from crawler.links.urls import FINGERPRINT_BYTES, fingerprint
from crawler.politeness.schedule import Pace, host_key
from crawler.record import EncodedRecord, Record

log = logging.getLogger(__name__)

# The longest a loop sleeps before asking Redis again (a host ready later than this, or a loop
# waiting for its process's poller).
MAX_POLL_S = 0.5
# Polling an empty queue while leases are out: start fast, back off to this.
LEASE_POLL_S = 0.1
# Polling while every host with pages waiting is at its --per-host cap: steady, so that every
# worker has its chance when a slot frees.
CAPPED_POLL_S = 0.02
# Items per SMISMEMBER or PUSH call. Redis runs one command or script at a time for every
# client: one PUSH of a million seeds took ~4.6 s, and past ``lua-time-limit`` (5 s) the
# other workers' commands are answered BUSY. 5,000 items take ~15 ms.
CHUNK = 5_000


class RedisVisited:
    """A read-only filter over the crawl's visited set (``SMISMEMBER``, one round trip).

    The atomic claim itself happens in ``RedisFrontier.push_many``, together with the enqueue:
    claiming here and pushing there would lose a URL to a worker killed in between.
    """

    def __init__(self, state: RedisState) -> None:
        self.state = state

    def __len__(self) -> int:
        return int(self.state.call("scard", self.state.key("seen")))

    def claim_many(self, keys: Sequence[bytes]) -> list[bytes]:
        """The keys not yet in the crawl's visited set (they are claimed by ``push_many``)."""
        fresh = []
        for start in range(0, len(keys), CHUNK):
            chunk = list(keys[start : start + CHUNK])
            present = self.state.call("smismember", self.state.key("seen"), chunk)
            fresh += [key for key, known in zip(chunk, present, strict=True) if not known]
        return fresh


class RedisFrontier:
    """The crawl's shared queue with leases. ``pop`` returns None only when nothing is queued
    and no lease is outstanding anywhere, or once this frontier is closed."""

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
        self._poller: int | None = None  # the loop of this process sleeping until Redis has work
        self._held: dict[bytes, int] = {}  # fingerprint -> pops in flight here
        self._mine: dict[int, int] = {}  # thread (or greenlet) -> leases it popped, not done
        self._busy: set[bytes] = set()  # fingerprints of pages out as their host's one page
        self.closed = False
        self.checker = RequestChecker(config)
        self.mode = config.mode

    def _reject(self, item: bytes, why: str) -> None:
        """End a popped item that fails re-validation: never fetched, it gets a ``rejected``
        record in the crawl (ending its lease, freeing its host) and is counted in the crawl's
        ``rejected``."""
        shown = shown_url(item)
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
        items = [part for r in requests for part in (encode_request(r), host_key(r.url))]
        added = 0
        head = [self.state.prefix, self.budget, self.host_budget]
        for start in range(0, len(items), 2 * CHUNK):
            chunk = items[start : start + 2 * CHUNK]
            added += int(self.state.run("PUSH", (), [*head, *chunk]))
        return added

    def pop(self, timeout: float | None = None) -> Request | None:
        """Lease the next request whose host may start now (crawl-wide: the ready order is in
        Redis); wait while no host is ready, or nothing is queued but leases are out.

        A caller that itself holds leases (one thread popping batches for others, as a process
        pool's parent does) is never made to wait for an empty queue: it would wait for itself.
        It gets None and may pop again once it has pushed its pages' links.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        wait = 0.02
        args = [self.state.prefix, self.lease_ms, self.cap, self.delay_ms]
        while not self.closed:
            if self.state.lost is not None:  # found by another loop, or the heartbeat
                raise self.state.lost
            item, ms, queued, timed = self.state.run("POP", (), args)
            if item:
                try:
                    request = self.checker.check(item)
                except Rejected as exc:
                    self._reject(item, str(exc))
                    continue
                self._pass_on(ready=timed)  # with an item, ``timed`` is hosts ready besides
                self._hold(item[:16], +1)
                if ms:  # its host's one page out: tell its end (``done``)
                    with self._lock:
                        self._busy.add(item[:16])
                return request
            if not queued and ms < 0:
                # Nothing queued, nothing leased: finished, or the crawl's keys are gone.
                self._pass_on(everyone=True)  # over: no loop here needs to wait
                self.state.check_marker()
                return None
            if not queued and self._mine.get(threading.get_ident()):
                self._pass_on()
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
                    self._pass_on()
                    return None
                pause = min(pause, left)
            self._sleep_or_wait(pause)
            # One loop per process polls (the others wait for it), so it can afford to poll
            # often: the end of a crawl is noticed soon after the last lease ends.
            wait = min(wait * 2, LEASE_POLL_S)
        self._pass_on()
        return None

    def _sleep_or_wait(self, pause: float) -> None:
        """One loop of this process sleeps until Redis may have something (the poller); the
        others wait for it here, so a host getting ready costs one POP, not one per loop."""
        with self._cond:
            if self._poller is None:
                self._poller = threading.get_ident()
            elif self._poller != threading.get_ident():
                self._cond.wait(MAX_POLL_S)  # woken when the poller got a page or gave up
                return
        time.sleep(pause)

    def _pass_on(self, *, everyone: bool = False, ready: int = 0) -> None:
        """This loop stops polling: the next waiting loop of the process (``everyone``: all of
        them) asks Redis now; ``ready``: other hosts may start now, wake as many loops (else
        they would wait for a loop to come back from a page, or for their poll)."""
        if everyone:
            with self._cond:
                if self._poller == threading.get_ident():
                    self._poller = None
                self._cond.notify_all()
        elif ready > 0 or self._poller == threading.get_ident():
            with self._cond:
                if self._poller == threading.get_ident():
                    self._poller = None
                self._cond.notify(max(1, ready))

    def done(self, request: Request) -> None:
        """Stop renewing the lease; the record sink ends it when it stores the record. A page
        out as its host's one page (the host has a delay) ends now for the schedule: the
        host's next start is a delay from now, without waiting for the record's turn."""
        fp = fingerprint(request.url)
        self._hold(fp, -1)
        with self._lock:
            busy = fp in self._busy
            self._busy.discard(fp)
        if busy:
            host = host_key(request.url)
            self.state.run("ENDED", (), [self.state.prefix, host, fp, self.delay_ms])

    def close(self) -> None:
        """Pop nothing more in this frontier; the crawl goes on for other workers."""
        self.closed = True
        with self._cond:
            self._cond.notify_all()

    def snapshot(self) -> dict[str, int]:
        """Crawl-wide counts from Redis: queued, leased (in flight on any worker), skipped."""
        counts = self.state.counters(wait=False)
        return {
            "queued": counts["queued"],
            "in_flight": counts["leased"],
            "skipped": counts["skipped"],
        }

    def held(self) -> list[bytes]:
        """Fingerprints of the leases popped here and still in flight."""
        with self._lock:
            return list(self._held)

    def _hold(self, fp: bytes, delta: int) -> None:
        me = threading.get_ident()
        with self._lock:
            _bump(self._held, fp, delta)
            _bump(self._mine, me, delta)
        if delta > 0:
            self.backend.heartbeat()


def _bump(counts: dict[Any, int], key: Any, delta: int) -> None:
    count = counts.get(key, 0) + delta
    if count > 0:
        counts[key] = count
    else:
        counts.pop(key, None)


class RedisRecordSink:
    """Stores each record in the crawl and ends its URL's lease, atomically (``COMPLETE``)."""

    def __init__(self, state: RedisState, delay: float = 0.0) -> None:
        self.state = state
        self.delay_ms = int(delay * 1000)  # the host's next start is booked from the record

    def write(self, record: Record | EncodedRecord) -> None:
        """Keep the record (the first one per URL wins); an ``interrupted`` page instead goes
        back to the queue without a record, so a resumed crawl fetches it."""
        release = "1" if record.error == "interrupted" else "0"
        key, data = record_key(record), encode_record(record)
        self.state.run("COMPLETE", (), [self.state.prefix, key, data, release, self.delay_ms])

    # The key and the stored JSON come from the fields an encoded record carries.
    write_encoded = write

    def close(self) -> None:
        """Nothing buffered."""


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
            # Written by the crawl's first worker: the scope, and the crawl's marker.
            self.state.call("set", key, json.dumps(mine), nx=True)
            stored = json.loads(self.state.call("get", key))
        except BackendError as exc:
            raise BackendError(f"cannot use {exc}") from None
        self.state.marked = True
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
        return RedisVisited(self.state)

    def host_clock(self, config: CrawlConfig, sync: Sync) -> RedisHostClock:
        """``--delay`` and ``--per-host`` across every worker of the crawl."""
        # The frontier caps pages per host (it counts leases), so the clock needs no slots.
        return RedisHostClock(self.state, sync.lock(), pace=Pace.of(config))

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> RedisRobotsCache:
        """robots.txt entries shared by every worker of the crawl."""
        return RedisRobotsCache(self.state)

    def record_sink(self, config: CrawlConfig) -> RedisRecordSink:
        """Records into the crawl (``crawl results`` exports them), ending their leases."""
        return RedisRecordSink(self.state, config.delay)

    def heartbeat(self) -> None:
        """Start (once per process) the thread that renews this process's leases."""
        if self._beat is not None and self._beat.is_alive():
            return
        with self._beat_lock:
            if self._beat is None or not self._beat.is_alive():
                beat = threading.Thread(target=self._renew, name="lease-heartbeat", daemon=True)
                beat.start()
                self._beat = beat

    def _renew(self) -> None:
        interval = self.config.lease_seconds / 3
        lease_ms = int(self.config.lease_seconds * 1000)
        while not self._quit.wait(interval):
            held = [fp for frontier in self._frontiers for fp in frontier.held()]
            if held:
                try:
                    self.state.run("RENEW", ("leases",), [lease_ms, *held])
                    self.state.check_marker()
                except BackendError:
                    # Lost keys: the loops' next pop raises it (``state.lost``). Unreachable
                    # past --backend-retry: the loops' own calls say so.
                    pass

    def close(self) -> None:
        """Stop the heartbeat (no thread left behind) and drop the connections."""
        self._quit.set()
        if self._beat is not None:
            self._beat.join(5)
        self.state.client.close()
