"""robots.txt: fetched once per origin per crawl, parsed with protego, obeyed before every fetch.

What a robots.txt answer means (RFC 9309, and what Google and Bing do):

* 2xx: its rules apply; ``Crawl-delay`` for our User-Agent raises the host's delay.
* 4xx (404, 403 ...): there are no rules; everything is allowed.
* 5xx, timeouts, broken connections: retried like any page (``--retries``); still failing, the
  whole origin is treated as disallowed for this crawl, and each of its URLs gets a ``robots``
  record saying robots.txt was unreachable.
* no connection at all (refused, DNS, TLS, ``--block-private``): no rules; the page's own fetch
  fails the same way and its record names the real cause.
* redirects: followed, up to five hops (as Google does). The ``-H`` headers go only to the
  origin the robots.txt belongs to (or its https upgrade): a hop to any other origin is fetched
  without them, as curl drops credentials across hosts, so a site cannot collect a token by
  redirecting its robots.txt elsewhere (docs/security.md).
* a fetch that raises (a bug, a backend outage, Ctrl-C) releases the origin's claim, so another
  worker fetches robots.txt instead of waiting for an answer that will never come.

The shared part is a ``RobotsCache`` of plain entries (``crawler/backends/*/``: memory, the manager,
SQLite and Redis store the same pairs). Each worker keeps its own parsed ``Protego`` objects.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from protego import Protego

from crawler.base import HostClock, Response, RobotsCache
from crawler.config import CrawlConfig
from crawler.links.urls import host_of, resolve

# An entry is (state, text): ("rules", robots.txt body), ("allow", why), ("unreachable", why).
RobotsEntry = tuple[str, str]
ROBOTS_REDIRECTS = 5
# robots.txt failed in a way the page's own fetch will meet and name better (a host that is down
# or unknown is reported as ``connect``/``dns``, not as a robots problem).
_PAGE_TELLS_BETTER = frozenset(
    {"connect", "dns", "tls", "blocked_address", "invalid_url", "too_large", "decode"}
)
# What ``origin_of`` leaves to ``urlsplit``: a netloc that ends at ``?`` or ``#``, or holds
# userinfo, a backslash, blanks or controls (``urlsplit`` strips some of those).
_SCHEMES = frozenset({"http", "https"})
_ODD_NETLOC = re.compile(r"[?#@\\\x00-\x20\x7f]")
# How long a worker waits for another one's robots.txt fetch before deciding alone.
_WAIT_SLICE = 1.0


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a normal-form URL: robots.txt applies per origin.

    It runs for every page: the usual ``http(s)://host[:port]/...`` is cut with ``partition``
    (a full ``urlsplit`` cost a twentieth of a page's fetch); anything else is split."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in _SCHEMES:
        netloc = rest.partition("/")[0]
        if _ODD_NETLOC.search(netloc) is None:
            return f"{scheme}://{netloc}"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class RobotsPolicy:
    """One worker's view of robots.txt: answers ``denied(url)`` with the shared cache.

    ``fetch`` is the worker's fetch-with-retries (it takes the host clock, so the robots.txt
    request is as polite as any page) and returns ``(response, attempts)``; it takes
    ``user_headers=False`` for a hop off the robots.txt's origin.
    """

    def __init__(
        self,
        config: CrawlConfig,
        cache: RobotsCache,
        clock: HostClock,
        fetch: Callable[..., tuple[Response, int]],
    ) -> None:
        self.config = config
        self.cache = cache
        self.clock = clock
        self.fetch = fetch
        self.agent = config.user_agent
        self._parsed: dict[str, Protego | str | None] = {}
        self._note: str | None = None
        self._fetched: str | None = None  # the origin whose robots.txt this worker just fetched
        self._turn: float | None = None  # see ``take_turn``

    def take_note(self) -> str | None:
        """What the record of the page that loaded robots.txt must say (once): a Crawl-delay
        above ``--max-crawl-delay`` that was cut to it."""
        note, self._note = self._note, None
        return note

    def take_turn(self) -> float | None:
        """When (``time.monotonic()``) the page whose ``denied`` just fetched robots.txt may send
        its own request, if that is a delay away (the host has one: ``--delay``, or the
        ``Crawl-delay`` just read); None otherwise, and once taken. robots.txt took the host's
        booked start, so the page waits a delay from its end: its loop can crawl other hosts
        meanwhile (``Worker.hold``)."""
        turn, self._turn = self._turn, None
        return turn

    def denied(self, url: str) -> str | None:
        """None when ``url`` may be fetched; otherwise the record's ``detail``."""
        self._turn = None
        origin = origin_of(url)
        rules = self._parsed.get(origin, False)
        if rules is False:
            rules = self._load(origin)
        if rules is None:
            return None
        if isinstance(rules, str):
            return rules
        if rules.can_fetch(url, self.agent):
            return None
        return f"disallowed by {origin}/robots.txt"

    def allows_known(self, url: str) -> bool:
        """True when ``url``'s origin has its robots.txt here already and it allows ``url``:
        ``denied`` would then say None without fetching or waiting for anything."""
        rules = self._parsed.get(origin_of(url), False)
        return rules is None or (
            rules is not False and not isinstance(rules, str) and rules.can_fetch(url, self.agent)
        )

    def sitemaps(self, url: str) -> list[str]:
        """The ``Sitemap:`` URLs in the robots.txt of ``url``'s origin, as written there.

        The entry is the one ``denied`` reads (fetched once per origin per crawl through the
        shared cache); with ``--ignore-robots`` it is fetched for this only, and its rules and
        ``Crawl-delay`` are not applied."""
        origin = origin_of(url)
        rules = self._parsed.get(origin, False)
        if rules is False:
            rules = self._load(origin)
        return list(rules.sitemaps) if isinstance(rules, Protego) else []

    def _load(self, origin: str) -> Protego | str | None:
        entry = self.cache.get(origin)
        self._fetched = None
        if entry is None:
            entry = self._fetch_claimed(origin) if self.cache.claim(origin) else self._await(origin)
        fetched = self._fetched == origin
        state, text = entry
        delay = self.config.delay
        rules: Protego | str | None = None
        if state == "unreachable":
            rules = f"robots.txt unreachable, host skipped for this crawl: {text}"
        elif state == "rules":
            rules = Protego.parse(text)
        asked = rules.crawl_delay(self.agent) if isinstance(rules, Protego) else None
        if self.config.robots:
            # Always, a Crawl-delay or none: the schedule then knows the host's robots.txt
            # was answered, and hands out more than its first page (HostSchedule.full).
            delay = self.clock.set_delay(host_of(origin + "/"), float(asked or 0.0))
            cap = self.config.max_crawl_delay
            if fetched and asked and float(asked) > cap:
                # Only the worker that fetched robots.txt says so: on the host's first page.
                self._note = f"Crawl-delay {float(asked):g} s capped at {cap:g} s"
        self._turn = time.monotonic() + delay if fetched and delay > 0 else None
        self._parsed[origin] = rules
        return rules

    def _await(self, origin: str) -> RobotsEntry:
        # The claimer's fetch is bounded by its retries, waits and page deadlines.
        budget = (self.config.retries + 1) * (
            self.config.page_deadline + self.config.max_retry_wait
        ) + ROBOTS_REDIRECTS * self.config.page_deadline
        waited = 0.0
        while waited < budget:
            entry = self.cache.wait(origin, _WAIT_SLICE)
            if entry is not None:
                return entry
            if self.cache.claim(origin):  # the claimer gave up (released): fetch it here
                return self._fetch_claimed(origin)
            waited += _WAIT_SLICE
        return ("unreachable", "gave up waiting for another worker's robots.txt fetch")

    def _fetch_claimed(self, origin: str) -> RobotsEntry:
        # Whatever happens, the claim ends: with an entry for everyone, or released.
        self._fetched = origin
        try:
            entry = self._fetch_entry(origin)
        except BaseException:
            self.cache.release(origin)
            raise
        self.cache.put(origin, entry)
        return entry

    def _fetch_entry(self, origin: str) -> RobotsEntry:
        url = origin + "/robots.txt"
        # Where the user's -H headers may go: this origin, or its https upgrade.
        trusted = {origin}
        if origin.startswith("http://"):
            trusted.add("https://" + host_of(url))
        for _ in range(ROBOTS_REDIRECTS + 1):
            if origin_of(url) in trusted:
                response, attempts = self.fetch(url)
            else:
                response, attempts = self.fetch(url, user_headers=False)
            status = response.status
            if response.error in _PAGE_TELLS_BETTER:
                # The page's own fetch will fail with the real reason; robots has no say.
                return ("allow", f"robots.txt not fetched: {response.error}")
            if response.error:
                tried = f"after {attempts} attempts" if attempts > 1 else "once"
                return ("unreachable", f"{response.error} {tried}: {response.detail}")
            assert status is not None
            if 300 <= status < 400:
                target = resolve(url, response.headers.get("location", ""))
                if target is None:
                    return ("allow", "robots.txt redirect unusable")
                url = target
                continue
            if status >= 500:
                return ("unreachable", f"HTTP {status} after {attempts} attempts")
            if status >= 400:
                return ("allow", f"HTTP {status}")
            return ("rules", response.body.decode("utf-8", "replace"))
        return ("allow", "robots.txt redirected too often")
