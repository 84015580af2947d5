"""Retries: which failures are worth another attempt, how long to wait, and the polite loop.

Retried: connection failures, read timeouts, broken connections (``connect``, ``timeout``,
``protocol``) and HTTP 429, 500, 502, 503, 504. Never retried: other 4xx, DNS failures, a page
that spent its whole deadline (a trickling server would just trickle again), oversized bodies.

The wait before attempt ``n + 1`` is ``Retry-After`` when the server sent one (seconds or an
HTTP date), else exponential backoff with jitter: ``b * 2**(n-1) * (1 + random())`` for the
base ``b`` (``retry_backoff``, 0.5 s); both are capped by ``--max-retry-wait``. The host slot is
released while waiting, so other workers can use the host in the meantime.

A crawl that is stopping (Ctrl-C, ``Crawler.stop``, ``--max-pages`` reached: its frontier is
closed) starts no new attempt: the page in flight keeps the response it has, and a wait before a
retry is cut short. "The pages in flight finish" then means within one attempt's deadline, not
one per retry left.

The first request sent for a page the frontier handed out is *granted*: the frontier booked its
start then (``grant``). Every other request (robots.txt first, retries) books a start of its own
on the host clock. Each response is shown to the clock (``observe``) for ``--auto-throttle``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from crawler.base import Fetcher, HostClock, Response
from crawler.config import CrawlConfig
from crawler.politeness.schedule import host_key

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_ERRORS = frozenset({"connect", "timeout", "protocol"})
STOP_CHECK_S = 0.1  # how soon a wait before a retry notices that the crawl is stopping


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or HTTP date); None if the
    header is missing or unreadable. A date in the past means 0."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Retrier:
    """Fetch with the host clock held around each attempt, and retries between attempts."""

    def __init__(
        self,
        config: CrawlConfig,
        fetcher: Fetcher,
        clock: HostClock,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        """``stopping``: true once the crawl is stopping (the worker's frontier is closed)."""
        self.config = config
        self.stopping = stopping
        self.fetcher = fetcher
        self.clock = clock
        self.sleep = sleep
        self.jitter = jitter
        self.throttled = config.auto_throttle
        self._granted: str | None = None

    def grant(self, url: str) -> None:
        """The frontier just handed out ``url``: the next request to its host was booked."""
        self._granted = host_key(url)

    def fetch(
        self, url: str, *, user_headers: bool = True, headers: Mapping[str, str] | None = None
    ) -> tuple[Response, int]:
        """The last response for ``url`` and how many attempts it took (``user_headers=False``:
        without the ``-H`` headers; ``headers``: the request's own; see ``Fetcher.fetch``)."""
        host = host_key(url)
        attempt = 0
        retried: tuple = ()  # with --warc, the exchanges of the attempts retried: archived too
        while True:
            attempt += 1
            granted = self._granted == host
            self._granted = None
            self.clock.acquire(host, granted)
            try:
                if headers:
                    response = self.fetcher.fetch(url, user_headers=user_headers, headers=headers)
                elif user_headers:
                    response = self.fetcher.fetch(url)
                else:
                    response = self.fetcher.fetch(url, user_headers=False)
            finally:
                self.clock.release(host)
            if self.throttled:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                self.clock.observe(host, response.elapsed_ms / 1000, response.status, retry_after)
            wait = self.wait_before_retry(response, attempt)
            if retried:
                response.exchanges = (*retried, *response.exchanges)
            if wait is None or self.stopping():
                return response, attempt
            retried = response.exchanges
            if wait > 0 and not self._wait(wait):
                return response, attempt

    def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` before a retry, in slices of at most ``STOP_CHECK_S`` so that a
        crawl stopping meanwhile is noticed; False if it did (no retry then)."""
        left = seconds
        while left > 0:
            step = min(left, STOP_CHECK_S)
            self.sleep(step)
            left -= step
            if self.stopping():
                return False
        return True

    def wait_before_retry(self, response: Response, attempt: int) -> float | None:
        """Seconds to wait before another attempt, or None when this response is final."""
        config = self.config
        if attempt > config.retries:
            return None
        if response.error is not None:
            if response.final or response.error not in RETRY_ERRORS:
                return None
        elif response.status not in RETRY_STATUSES:
            return None
        asked = parse_retry_after(response.headers.get("retry-after"))
        if asked is None:
            backoff = config.retry_backoff * 2 ** (attempt - 1)
            asked = backoff * (1.0 + self.jitter())
        return min(asked, config.max_retry_wait)
