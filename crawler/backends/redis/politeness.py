"""Politeness across machines: the per-host clock and the robots.txt cache kept in Redis.

``--delay`` and ``--per-host`` then hold for the whole crawl, not per worker: every worker books
a host's start times and concurrency slots in the same Redis hash and sorted set (one Lua
script, ``ACQUIRE_HOST``), with the server's clock.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.backends.redis.state import RedisState

# Polling a host whose slots are all taken: start fast, back off to this.
_MAX_POLL_S = 0.2


class RedisHostClock:
    """``HostClock`` shared by every worker of the crawl, on every machine.

    Invariant: at most ``per_host`` requests to one host hold a slot at once, crawl-wide, and
    two starts on one host are at least its delay apart. A slot held by a worker that died
    expires after ``hold`` seconds (the page deadline plus the wait), so it cannot block a
    host forever.
    """

    def __init__(
        self,
        state: RedisState,
        lock: Any,
        *,
        delay: float = 0.0,
        per_host: int | None = None,
        hold: float = 60.0,
    ) -> None:
        self.state = state
        self._lock = lock
        self._delay_ms = int(delay * 1000)
        self._cap = -1 if per_host is None else per_host
        self._hold_ms = int(hold * 1000)
        self._tokens: dict[str, list[str]] = {}  # host -> slots this process holds
        self._raised = False

    def acquire(self, host: str) -> None:
        """Block until a request to ``host`` may start (crawl-wide); ``release`` after it."""
        if self._cap < 0 and self._delay_ms <= 0 and not self._raised:
            return
        token = uuid.uuid4().hex
        keys = (f"slots:{host}", "next", "delays")
        poll = 0.01
        while True:
            wait_ms = self.state.run(
                "ACQUIRE_HOST", keys, [host, token, self._cap, self._delay_ms, self._hold_ms]
            )
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
        """Free the slot this process took for ``host``."""
        if self._cap < 0:
            return
        with self._lock:
            tokens = self._tokens.get(host)
            token = tokens.pop() if tokens else None
            if tokens == []:
                del self._tokens[host]
        if token is not None:
            self.state.call("zrem", self.state.key(f"slots:{host}"), token)

    def set_delay(self, host: str, seconds: float) -> None:
        """Raise ``host``'s delay for every worker (robots.txt ``Crawl-delay``)."""
        if seconds * 1000 <= self._delay_ms:
            return
        self._raised = True
        key = self.state.key("delays")
        current = float(self.state.call("hget", key, host) or 0)
        if seconds > current:
            self.state.call("hset", key, host, seconds)


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
