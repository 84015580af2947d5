"""Politeness across machines: the per-host clock and the robots.txt cache kept in Redis.

``--delay``, ``Crawl-delay`` and the auto-throttle then hold for the whole crawl, not per
worker: the frontier hands out pages in the hosts' ready order kept in Redis, and every worker
books each request's start on the same host timeline (one Lua script, ``ACQUIRE_HOST``), with
the server's clock.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

from crawler.politeness.schedule import Pace, throttled

if TYPE_CHECKING:
    from crawler.backends.redis.state import RedisState

# Polling a host whose slots are all taken: start fast, back off to this.
_MAX_POLL_S = 0.2


class RedisHostClock:
    """``HostClock`` shared by every worker of the crawl, on every machine, on the same host
    timeline as the crawl's frontier (``next``/``last`` hashes, ``ACQUIRE_HOST``).

    Invariant: two starts on one host are at least its delay apart, crawl-wide. With a cap (a
    clock used on its own: the frontier caps pages per host itself), at most ``per_host``
    requests to one host hold a slot at once; a slot held by a worker that died expires after
    ``hold`` seconds, so it cannot block a host forever.
    """

    def __init__(
        self,
        state: RedisState,
        lock: Any,
        *,
        delay: float = 0.0,
        per_host: int | None = None,
        hold: float = 60.0,
        pace: Pace | None = None,
    ) -> None:
        self.state = state
        self._lock = lock
        self.pace = pace if pace is not None else Pace(delay=delay)
        self._delay_ms = int(self.pace.delay * 1000)
        self._cap = -1 if per_host is None else per_host
        self._hold_ms = int(hold * 1000)
        self._tokens: dict[str, list[str]] = {}  # host -> slots this process holds
        self._raised = self.pace.auto_throttle
        self._slowed: set[str] = set()  # hosts whose Crawl-delay this process set
        self._answered: set[str] = set()  # hosts whose robots.txt answer this process told
        self._ended: dict[str, float] = {}  # host -> when a request to it last ended here

    def acquire(self, host: str, granted: bool = False) -> None:
        """Block until a request to ``host`` may start (crawl-wide); ``release`` after it."""
        if self._cap < 0 and self._delay_ms <= 0 and not self._raised:
            return
        if granted and self._cap < 0 and not self.pace.auto_throttle and host not in self._slowed:
            # POP handed the page out a delay after the end of the host's previous one (a
            # host with a delay has one page out at a time): nothing to book, no round trip.
            return
        token = uuid.uuid4().hex
        args = [self.state.prefix, host, token, self._cap, self._delay_ms, self._hold_ms]
        ended = self._ended.get(host)
        ago = -1 if ended is None else max(0, int((time.monotonic() - ended) * 1000))
        args += [1 if granted else 0, ago]
        poll = 0.01
        while True:
            wait_ms = self.state.run("ACQUIRE_HOST", (), args)
            if wait_ms >= 0:
                break
            time.sleep(poll)  # every slot taken: another worker will release one
            poll = min(poll * 2, _MAX_POLL_S)
        if self._cap >= 0:
            with self._lock:
                self._tokens.setdefault(host, []).append(token)
        if wait_ms > 0:
            time.sleep(wait_ms / 1000)

    def release(self, host: str) -> None:
        """The request to ``host`` ended (a retry keeps the delay from now); free the slot this
        process took for it."""
        if self._delay_ms > 0 or self._raised:
            self._ended[host] = time.monotonic()
        if self._cap < 0:
            return
        with self._lock:
            tokens = self._tokens.get(host)
            token = tokens.pop() if tokens else None
            if tokens == []:
                del self._tokens[host]
        if token is not None:
            self.state.call("zrem", self.state.key(f"slots:{host}"), token)

    def set_delay(self, host: str, seconds: float) -> float:
        """Raise ``host``'s delay for every worker (robots.txt ``Crawl-delay``), capped at
        ``--max-crawl-delay``; return the delay in force."""
        seconds = min(seconds, self.pace.max_crawl_delay)
        if seconds * 1000 <= self._delay_ms:
            if self.pace.robots and host not in self._answered:
                # No delay to raise, but the crawl learns that robots.txt answered: POP then
                # hands out more than the host's first page (once per host and process).
                self._answered.add(host)
                self.state.run("SET_DELAY", (), [self.state.prefix, host, seconds])
            return self.pace.delay
        self._raised = True
        self._slowed.add(host)
        return float(self.state.run("SET_DELAY", (), [self.state.prefix, host, seconds]))

    def observe(
        self, host: str, latency: float, status: int | None, retry_after: float | None
    ) -> None:
        """AutoThrottle for the whole crawl: the host's delay in Redis follows this response
        (read, steer, write: two workers' updates may interleave, each a valid step)."""
        pace = self.pace
        if not pace.auto_throttle:
            return
        key = self.state.key("delays")
        old = float(self.state.call("hget", key, host) or pace.delay)
        floor = float(self.state.call("hget", self.state.key("floors"), host) or 0)
        self.state.call("hset", key, host, throttled(pace, old, floor, latency, status))
        if retry_after is not None and status in (429, 503):
            hold_ms = int(min(retry_after, pace.max_crawl_delay) * 1000)
            self.state.run("DEFER_HOST", (), [self.state.prefix, host, hold_ms])


class RedisRobotsCache:
    """``RobotsCache`` in Redis: robots.txt is fetched once per origin for the whole crawl."""

    def __init__(self, state: RedisState, *, claim_seconds: float = 60.0) -> None:
        self.state = state
        self._claim_ms = int(claim_seconds * 1000)

    def get(self, origin: str) -> tuple[str, str] | None:
        """The stored entry for ``origin``, or None."""
        data = self.state.call("hget", self.state.key("robots"), origin)
        return tuple(json.loads(data)) if data is not None else None

    def claim(self, origin: str) -> bool:
        """True for one worker per origin; the claim lapses if that worker dies meanwhile."""
        key = self.state.key(f"robots-claim:{origin}")
        return bool(self.state.call("set", key, "1", px=self._claim_ms, nx=True))

    def put(self, origin: str, entry: tuple[str, str]) -> None:
        """Store the entry for every worker."""
        self.state.call("hset", self.state.key("robots"), origin, json.dumps(list(entry)))

    def release(self, origin: str) -> None:
        """Give up a claim without an entry: the next ``claim`` succeeds at once."""
        self.state.call("delete", self.state.key(f"robots-claim:{origin}"))

    def wait(self, origin: str, timeout: float) -> tuple[str, str] | None:
        """Poll (bounded) for another worker's entry."""
        deadline = time.monotonic() + timeout
        poll = 0.01
        while (entry := self.get(origin)) is None and time.monotonic() < deadline:
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
            poll = min(poll * 2, _MAX_POLL_S)
        return entry
