"""Per-host timing and concurrency as pure arithmetic: when each host may start its next request.

Every in-process backend (memory, SQLite, the processes strategy's manager) keeps one
``HostSchedule`` per crawl behind its own lock; the Redis backend does the same arithmetic in
Lua (``crawler/backends/redis/scripts.py``). Nothing here locks, sleeps or reads a clock: the
caller passes ``now`` (``time.monotonic()`` seconds), so the rules are tested without waiting.

Two kinds of start are booked on one host timeline:

* a **hand-out**: the frontier gives a page of a host that is ready (``ready_at(host) <= now``)
  to a loop, and books that page's first request at ``now`` (``hand_out``);
* an **extra** request made while a page is in hand (its host's robots.txt, a retry): it takes
  the host's next free start (``book(granted=False)``), which pushes the next hand-out back.

A granted start (the first request of a handed-out page) only keeps its distance from the
previous actual start (``book(granted=True)``): if a loop sent it late, the next one waits.

A booking is when a request may *leave*; when it does leave is later, by a varying lag (a
connection to open, a loop busy parsing, a process the machine runs late). So a host with a
delay has one page in flight at a time, and its next start is booked from when the previous one
*ended* (``finish``: the page is done; ``end``: one request's answer was read): any request's
send lies before its end, so two sends to one host are a delay apart however late each left
(the rule of Heritrix and Nutch: the delay runs from the end of the previous fetch).

Invariant: the actual starts booked for one host are at least ``delay(host)`` apart, a host with
a delay has at most one page handed out and not finished, and at most ``per_host`` pages of one
host are handed out and not finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

# Scrapy's AutoThrottle: how much a 429/503 multiplies a host's delay, and the delay it grows
# from when the host had none.
BACKOFF_FACTOR = 2.0
BACKOFF_FLOOR = 1.0


def host_key(url: str) -> str:
    """The host a URL is scheduled under: ``host_of(url)``, the same answer, without a full
    URL parse for the usual ``scheme://host[:port]/...`` (it runs for every push, pop and
    request)."""
    parts = url.split("/", 3)
    if len(parts) > 2:
        netloc = parts[2]
        if "@" not in netloc and "[" not in netloc:
            return _lower(netloc.partition(":")[0])
    from crawler.links.urls import host_of  # w3lib, hence ssl: only for unusual URLs

    return host_of(url)


@lru_cache(maxsize=4096)
def _lower(host: str) -> str:
    return host.lower()


@dataclass(frozen=True, kw_only=True)
class Pace:
    """The politeness settings a schedule follows (from ``CrawlConfig``)."""

    delay: float = 0.0
    per_host: int | None = None
    max_crawl_delay: float = 30.0
    auto_throttle: bool = False
    # robots.txt obeyed: a host's first page goes alone (its robots.txt may set a Crawl-delay).
    robots: bool = False
    # AutoThrottle's target: requests in flight per host it steers towards.
    throttle_target: float = 1.0

    @classmethod
    def of(cls, config: object) -> Pace:
        """The pace of a ``CrawlConfig`` (any object with its attributes)."""
        return cls(
            delay=getattr(config, "delay", 0.0),
            per_host=getattr(config, "per_host", None),
            max_crawl_delay=getattr(config, "max_crawl_delay", 30.0),
            auto_throttle=getattr(config, "auto_throttle", False),
            robots=getattr(config, "robots", False),
            throttle_target=getattr(config, "throttle_target", 1.0),
        )


class HostSchedule:
    """Start times, delays and pages in flight per host."""

    def __init__(self, pace: Pace | None = None) -> None:
        self.pace = pace or Pace()
        self._next: dict[str, float] = {}  # next free start per host
        self._last: dict[str, float] = {}  # latest actual start booked per host
        self._delays: dict[str, float] = {}  # per-host delay above the base (robots, throttle)
        self._floor: dict[str, float] = {}  # Crawl-delay per host: the throttle never goes below
        self._in_flight: dict[str, int] = {}
        # Hosts whose robots.txt was answered or a page finished (``pace.robots`` only).
        self._opened: set[str] = set()
        # Nothing to time until a delay exists anywhere: bookings are then free.
        self.timed = self.pace.delay > 0 or self.pace.auto_throttle

    def delay(self, host: str) -> float:
        """Seconds between two starts on ``host``."""
        return self._delays.get(host, self.pace.delay)

    def ready_at(self, host: str) -> float:
        """When ``host`` may start its next request (0.0: it never started one)."""
        return self._next.get(host, 0.0)

    def in_flight(self, host: str) -> int:
        """Pages of ``host`` handed out and not finished."""
        return self._in_flight.get(host, 0)

    def full(self, host: str) -> bool:
        """True when ``host`` may have no more pages in flight: ``per_host`` are, or one is and
        the host has a delay (its next start waits for that page's end)."""
        flying = self._in_flight.get(host, 0)
        if flying and self.timed and self.delay(host) > 0:
            return True
        if flying and self.pace.robots and host not in self._opened:
            return True  # its first page is out: its robots.txt may yet set a delay
        cap = self.pace.per_host
        return cap is not None and flying >= cap

    def open(self, host: str) -> None:
        """``host``'s robots.txt was answered, or a page of it finished: with robots.txt obeyed,
        more than one page of it may now be out (``full``)."""
        if self.pace.robots:
            self._opened.add(host)

    def opened(self, host: str) -> bool:
        """True once ``open(host)`` was called (with robots.txt obeyed)."""
        return host in self._opened

    def hand_out(self, host: str, now: float) -> None:
        """A page of ``host`` leaves the frontier at ``now`` (the host is ready, not full)."""
        self._in_flight[host] = self._in_flight.get(host, 0) + 1
        if self.timed:
            self._next[host] = max(now, self._next.get(host, 0.0)) + self.delay(host)

    def finish(self, host: str, now: float | None = None) -> None:
        """A page of ``host`` handed out earlier is finished (``now``: when; every request it
        made has ended by then, so the host's next start is a delay after it)."""
        self.open(host)
        left = self._in_flight.get(host, 0) - 1
        if left > 0:
            self._in_flight[host] = left
        else:
            self._in_flight.pop(host, None)
        if now is not None:
            self.end(host, now)

    def end(self, host: str, now: float) -> None:
        """A request to ``host`` ended at ``now`` (its answer read, or its failure known): it
        was sent before, so the host's next start keeps the delay from ``now``."""
        if not self.timed:
            return
        delay = self.delay(host)
        if delay <= 0:
            return
        if now > self._last.get(host, -delay):
            self._last[host] = now
        if now + delay > self._next.get(host, 0.0):
            self._next[host] = now + delay

    def book(self, host: str, now: float, *, granted: bool) -> float:
        """Book one actual request start on ``host``; return when it may start (>= ``now``).

        ``granted``: the first request of a handed-out page, already counted by ``hand_out``.
        """
        if not self.timed:
            return now
        delay = self.delay(host)
        if granted:
            start = max(now, self._last.get(host, -delay) + delay)
            self._next[host] = max(self._next.get(host, 0.0), start + delay)
        else:
            start = max(now, self._next.get(host, 0.0), self._last.get(host, -delay) + delay)
            self._next[host] = start + delay
        self._last[host] = start
        return start

    def set_delay(self, host: str, seconds: float, now: float | None = None) -> float:
        """Raise ``host``'s delay to its robots.txt ``Crawl-delay`` (never lowers it), capped at
        ``max_crawl_delay``; return the delay now in force.

        ``now``: robots.txt was just answered. Its request counts as the host's latest start
        (its real start was untimed when no delay was known yet), so the next one keeps the
        new delay from it."""
        self.open(host)
        seconds = min(seconds, self.pace.max_crawl_delay)
        if seconds > self._floor.get(host, 0.0):
            self._floor[host] = seconds
        if seconds > self.delay(host):
            self._delays[host] = seconds
            self.timed = True
            if now is not None:
                self._last[host] = max(self._last.get(host, now), now)
                self._next[host] = max(self._next.get(host, 0.0), now + seconds)
        return self.delay(host)

    def raise_delay(self, host: str, seconds: float) -> None:
        """Raise ``host``'s delay to one another process's schedule worked out (uncapped)."""
        if seconds > self.delay(host):
            self._delays[host] = seconds
            self.timed = True

    def defer(self, host: str, until: float) -> None:
        """``host`` starts nothing before ``until`` (another process booked it, Retry-After)."""
        if until > self._next.get(host, 0.0):
            self._next[host] = until
            self.timed = True

    def observe(
        self, host: str, now: float, latency: float, status: int | None, retry_after: float | None
    ) -> None:
        """AutoThrottle: steer ``host``'s delay from one response (a no-op unless enabled).

        The delay moves halfway towards ``latency / throttle_target`` (Scrapy's rule; a slower
        answer than the target raises it at once); an error status never lowers it; 429 and 503
        double it; ``Retry-After`` holds the whole host back that long. It stays between
        ``--delay`` (or the host's Crawl-delay) and ``max_crawl_delay``.
        """
        pace = self.pace
        if not pace.auto_throttle:
            return
        floor = self._floor.get(host, 0.0)
        self._delays[host] = throttled(pace, self.delay(host), floor, latency, status)
        if retry_after is not None and status in (429, 503):
            self.defer(host, now + min(retry_after, pace.max_crawl_delay))


def throttled(pace: Pace, old: float, floor: float, latency: float, status: int | None) -> float:
    """AutoThrottle's next delay for a host whose delay is ``old`` (``floor``: its Crawl-delay)
    after one response that took ``latency`` seconds (see ``HostSchedule.observe``)."""
    target = latency / pace.throttle_target
    new = max(target, (old + target) / 2)
    if status in (429, 503):
        new = max(old * BACKOFF_FACTOR, BACKOFF_FLOOR, new)
    elif status is None or status >= 400:
        new = max(new, old)
    low = max(pace.delay, floor)
    return min(max(new, low), max(pace.max_crawl_delay, low))
