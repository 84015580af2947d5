"""Streaming seeds: a big URL list is read while the crawl runs, not before it starts.

The engine reads the first ``FIRST_SEEDS`` seeds, starts the crawl on them, and wraps the
backend's frontiers in ``FeedingFrontier``: a loop that pops reads the next ``CHUNK`` seeds
first when fewer than half of ``READ_AHEAD`` listed seeds are queued (at most once every
``REFILL_EVERY`` pops or ``REFILL_AFTER_S`` seconds, unless fewer than a chunk are left),
turns them into requests (bad lines into ``invalid_url`` records), claims them in the crawl's
visited set and queues the new ones, exactly what the strategy did with the whole list before.
So memory holds at most about ``READ_AHEAD`` listed URLs ahead of the loops (~100 bytes each,
packed), and a list sorted by host still offers the frontier many hosts at once (a host's pages
are queued together but ``READ_AHEAD`` URLs span hundreds of hosts of a few hundred pages each).

Termination stays the frontier's: a loop that finds the frontier finished (nothing queued,
nothing in flight) while seeds are left reads the next chunk itself and pops again; the others
wait for it on the strategy's lock, so none leaves early. Only one loop reads at a time; a loop
that finds another reading pops what is queued. Reading waits on the input only when the crawl
has nothing else to do (``SeedLines`` then waits in ``select``, cooperatively under gevent).

Records of bad lines read after the start are handed to the engine (``records``), which passes
them to the sinks from its one consumer, before the next record and at the end.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from crawler.base import Backend, Frontier, Request, Sync, Visited
from crawler.config import CrawlConfig
from crawler.record import Record
from crawler.sources import Seed, SeedLines, to_requests

FIRST_SEEDS = 1_000  # read before the crawl starts: the first request goes out at once
CHUNK = 500  # read per refill: ~10-20 ms of normalising, on one loop
READ_AHEAD = 100_000  # listed seeds queued ahead of the loops, at most ~2 chunks more
# Pops between two refills while enough seeds are queued: 64 greenlets that each read a chunk
# before their first request would hold that request back by seconds.
REFILL_EVERY = 16
# Or this long since the last refill: a polite crawl pops seldom (its loops wait for their
# hosts' turns), and a list sorted by host must still bring its later hosts in soon.
REFILL_AFTER_S = 0.05


class _IterableSeeds:
    """``read`` over any iterable of seeds (the API's list or generator, a replaced stdin)."""

    def __init__(self, seeds: Iterable[Seed | str]) -> None:
        self._seeds: Iterator[Seed | str] = iter(seeds)
        self._left = len(seeds) if isinstance(seeds, list | tuple) else -1
        self.finished = self._left == 0

    def read(self, most: int, *, wait: bool, stop: object = None) -> list[Seed | str] | None:
        seeds = list(islice(self._seeds, most))
        if self._left >= 0:
            self._left -= len(seeds)
            self.finished = self._left == 0
        return seeds or None


class SeedFeed:
    """The seeds still to read, as requests a chunk at a time; shared by every loop."""

    def __init__(self, seeds: Iterable[Seed | str], config: CrawlConfig) -> None:
        self._config = config
        self._listed = seeds if isinstance(seeds, list | tuple) else None
        self._source: Any = seeds if isinstance(seeds, SeedLines) else _IterableSeeds(seeds)
        # A regular file is read once more for userinfo, before it is read at all (below).
        self._file_credentials = seeds.credential_lines() if isinstance(seeds, SeedLines) else None
        self._read_with_at: list[str] = []
        self.pending = True  # seeds may be left to read
        self.generation = 0  # chunks read so far (a loop that waited sees whether one came)
        self.outstanding = 0  # listed seeds queued and not yet popped (a hint, not a count)
        self.credit = 0  # pops since the last refill
        self.refilled = time.monotonic()  # when the last refill was (the first read: now)
        self.records: deque[Record] = deque()  # bad lines read after the start

    def read(
        self, most: int, *, wait: bool = True, stop: Callable[[], bool] | None = None
    ) -> tuple[list[Request], list[Record]]:
        """Up to ``most`` seeds as requests and ``invalid_url`` records (both empty when none
        was ready and ``wait`` is False, when ``stop()`` came true while waiting, or when the
        seeds are over: ``pending`` is False then)."""
        seeds = self._source.read(most, wait=wait, stop=stop) if self.pending else None
        if seeds is None or self._source.finished:
            self.pending = False
        if seeds is None:
            return [], []
        self._read_with_at += [t for t in _texts(seeds) if "@" in t]
        requests, invalid = to_requests(seeds, self._config.mode)
        if self._config.sitemaps:
            from crawler.sitemaps.follow import discovery_requests

            requests += discovery_requests(requests)
        return requests, invalid

    def read_all(self) -> tuple[list[Request], list[Record]]:
        """Every seed left (a strategy that cannot take them while it runs)."""
        requests: list[Request] = []
        invalid: list[Record] = []
        while self.pending:
            more, bad = self.read(65_536)
            requests += more
            invalid += bad
        return requests, invalid

    def close(self) -> None:
        """Read no more (the crawl is over); a file opened for the seeds is closed."""
        self.pending = False
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def credential_texts(self) -> list[str]:
        """The seed texts that may carry credentials: all of a file's or a list's; of stdin or
        another stream, those read so far (a crawl cannot add credentials once it runs)."""
        if self._file_credentials is not None:
            return self._file_credentials
        if self._listed is not None:
            return [t for t in _texts(self._listed) if "@" in t]
        return self._read_with_at


def _texts(seeds: Iterable[Seed | str]) -> Iterator[str]:
    return (s if isinstance(s, str) else s.text for s in seeds)


class FeedingBackend:
    """A backend whose frontiers read the rest of the seeds as the crawl needs them."""

    def __init__(self, backend: Backend, feed: SeedFeed) -> None:
        self._backend = backend
        self._feed = feed
        self.claimed_by: Visited | None = None

    def frontier(self, config: CrawlConfig, sync: Sync) -> Frontier:
        """The wrapped backend's frontier, fed from the seeds."""
        return FeedingFrontier(self._backend.frontier(config, sync), self._feed, self, sync)

    def visited(self, config: CrawlConfig, sync: Sync) -> Visited:
        """The wrapped backend's visited set: the one the seeds read later are claimed in."""
        visited = self._backend.visited(config, sync)
        self.claimed_by = visited
        return visited

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


class FeedingFrontier:
    """A frontier that reads more seeds when it runs low (see the module docstring)."""

    def __init__(self, inner: Frontier, feed: SeedFeed, owner: FeedingBackend, sync: Sync):
        self._inner = inner
        self._feed = feed
        self._owner = owner
        self._lock = sync.lock()
        self._reading = False

    @property
    def closed(self) -> bool:  # type: ignore[override]
        """True once the frontier was closed."""
        return self._inner.closed

    def push_many(self, requests: Iterable[Request]) -> int:
        """Queue requests (the wrapped frontier's)."""
        return self._inner.push_many(requests)

    def pop(self, timeout: float | None = None) -> Request | None:
        """The wrapped frontier's ``pop``, reading seeds first when few are queued; None only
        once the seeds are all read and the frontier is finished (or closed, or timed out)."""
        feed, inner = self._feed, self._inner
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            feed.credit += 1
            if feed.pending and not self._reading and self._low(feed):
                self._refill(wait=False, seen=feed.generation)
            generation = feed.generation
            # Asked again (a chunk was queued meanwhile): only what is left of ``timeout``.
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            request = inner.pop(left)
            if request is not None:
                if request.depth == 0 and not request.chain and feed.outstanding > 0:
                    feed.outstanding -= 1
                return request
            if inner.closed:
                return None
            if not feed.pending:
                if feed.generation != generation:
                    continue  # the last chunk was queued meanwhile
                return None
            if timeout is not None and not self._finished():
                return None  # timed out: the caller looks again
            self._refill(wait=True, seen=generation)

    @staticmethod
    def _low(feed: SeedFeed) -> bool:
        if feed.outstanding < CHUNK:
            return True
        return feed.outstanding < READ_AHEAD // 2 and (
            feed.credit >= REFILL_EVERY or time.monotonic() - feed.refilled >= REFILL_AFTER_S
        )

    def _finished(self) -> bool:
        counts = self._inner.snapshot()
        return counts.get("queued", 0) == 0 and counts.get("in_flight", 0) == 0

    def _refill(self, *, wait: bool, seen: int) -> None:
        """Read one chunk of seeds and queue the new ones, unless a chunk came since the
        caller saw ``seen`` chunks. ``wait``: the crawl has nothing else to do, so wait for
        input (or for the loop reading already)."""
        feed = self._feed
        with self._lock:
            if feed.generation != seen or not feed.pending or self._inner.closed:
                return  # another loop read meanwhile
            self._reading = True
            feed.credit = 0
            feed.refilled = time.monotonic()
            try:
                # A loop waiting on a stalled pipe must notice a Ctrl-C or stop.
                requests, invalid = feed.read(CHUNK, wait=wait, stop=self._stopped)
                if requests or invalid or not feed.pending:
                    feed.records.extend(invalid)
                    feed.outstanding += self._queue(requests)
                    feed.generation += 1
            finally:
                self._reading = False

    def _stopped(self) -> bool:
        return self._inner.closed

    def _queue(self, requests: list[Request]) -> int:
        from crawler.children import claim_new  # w3lib, hence ssl: imported by the loops already

        visited = self._owner.claimed_by
        assert visited is not None, "the strategy builds the visited set before it pops"
        fresh = claim_new(visited, requests) if requests else []
        return self._inner.push_many(fresh) if fresh else 0

    def done(self, request: Request, ago: float = 0.0) -> None:
        """Mark a popped request finished (the wrapped frontier's)."""
        self._inner.done(request, ago)

    def close(self) -> None:
        """Stop handing out requests and reading seeds."""
        self._inner.close()

    def snapshot(self) -> dict[str, int]:
        """The wrapped frontier's counts."""
        return self._inner.snapshot()
