"""The worker loop, written once for every strategy: pop → fetch → parse → scope → claim → push.

A strategy runs one or many of these loops; it never changes what a loop decides.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from http.cookiejar import CookieJar
from typing import NamedTuple

from crawler.archive.digest import body_digest
from crawler.archive.payload import payload_for
from crawler.backends.memory.host_clock import MemoryHostClock
from crawler.backends.memory.robots_cache import MemoryRobotsCache
from crawler.backends.pages import open_pages
from crawler.base import Emit, Fetcher, Frontier, HostClock, Request, Response, RobotsCache, Visited
from crawler.children import children_of, claim_new
from crawler.config import CrawlConfig
from crawler.errors import one_line
from crawler.held import Held
from crawler.http.retry import Retrier
from crawler.links.page import page_links
from crawler.links.scope import Scope
from crawler.links.urls import resolve
from crawler.politeness.robots import RobotsPolicy
from crawler.politeness.schedule import HostSchedule, Pace, host_key
from crawler.record import Record
from crawler.recrawl import PageState, compare, page_state
from crawler.redirects import REDIRECT_STATUSES, follow_redirect, redirect_scope
from crawler.scrape.callbacks import run_callback
from crawler.scrape.page import Page
from crawler.sitemap_page import robots_sitemap_lines, sitemap_page
from crawler.unshared import UNSHARED

_FIRST = object()  # ``fetch_page`` of a page that was not held


class Fetched(NamedTuple):
    """The network half of one page: its response, or a record when it ended before one
    (robots said no, or a bug). ``worker`` names the loop that fetched it."""

    request: Request
    response: Response | None = None
    attempts: int = 0
    worker: str | None = None
    record: Record | None = None
    # What a durable crawl kept of the page before this fetch (crawler/recrawl.py).
    known: PageState | None = None
    # Something the page's record should say about its host (a Crawl-delay over the cap).
    note: str | None = None
    # Not fetched yet: robots.txt just took the host's start, and the page's own turn comes at
    # this ``time.monotonic()`` (the loop holds it meanwhile: ``Worker.hold``).
    turn: float | None = None


class Worker:
    """One worker loop. ``emit`` receives every record; ``name`` identifies the loop in them.

    ``host_clock`` and ``robots`` are the crawl's shared politeness state
    (``Backend.host_clock`` / ``Backend.robots_cache``): a strategy running several loops must
    give them all the same two objects. Left out, the loop gets private ones, which is right
    only for a loop that runs alone (serial, tests). ``cookies``, one ``http.cookiejar.CookieJar``
    per crawl given to every loop of a process, lets a cookie set on one loop's page reach the
    next page whichever loop fetches it; left out, each loop keeps its own jar. ``connections``
    (``crawler.http.registry.open_connections``), given to every loop of a process, lets a
    host's open connection serve whichever loop fetches it next; the strategy closes them.

    A worker built without ``frontier`` and ``emit`` only crawls and claims (``crawl`` and
    ``claim``): the processes strategy runs those in children while the parent owns the frontier.
    A worker with a frontier holds a page whose robots.txt it just fetched until the host's
    delay has passed, and crawls other hosts meanwhile (``crawler/held.py``): its loop takes
    requests from ``next_request``, not from the frontier itself. A processes child's worker
    (``holds``) returns such a page unfetched (``Fetched.turn``) and is told of its turn with
    ``resume``.

    On a crawl that keeps its state (``--state``, ``--backend``) the loop opens its own
    connection to the crawl's page states (``crawler/recrawl.py``): it asks for stored pages
    conditionally, and keeps what it fetched for the next crawl.
    """

    def __init__(
        self,
        config: CrawlConfig,
        frontier: Frontier | None,
        visited: Visited,
        emit: Emit | None,
        *,
        name: str,
        fetcher: Fetcher | None = None,
        host_clock: HostClock | None = None,
        robots: RobotsCache | None = None,
        cookies: CookieJar | None = None,
        connections: object | None = None,
        holds: bool = False,
    ) -> None:
        self.config = config
        self.frontier = frontier
        self.visited = visited
        self.emit = emit
        self.name = name
        self.scope = Scope(config)
        if fetcher is None:
            from crawler.http.registry import open_fetcher

            fetcher = open_fetcher(config, cookies=cookies, connections=connections)
        self.fetcher = fetcher
        if host_clock is None:
            host_clock = MemoryHostClock(UNSHARED, schedule=HostSchedule(Pace.of(config)))
        if robots is None:
            robots = MemoryRobotsCache(UNSHARED)
        self.pages = open_pages(config)
        # A crawl's first run has no page state to ask about: a page stored meanwhile by
        # another loop is not fetched again in this crawl (but after a lost lease, when a
        # plain fetch is just as right). Saves a round trip per page.
        self._lookup = self.pages is not None and not self.pages.empty()
        self.retrier = Retrier(config, fetcher, host_clock, stopping=self.stopping)
        self.robots = RobotsPolicy(config, robots, host_clock, self.retrier.fetch)
        # A page whose robots.txt this loop just fetched waits for its host's turn away from
        # the loop: held here (a loop with a frontier), or handed back (``holds``: a processes
        # child, whose parent gives it out again at its turn).
        self.holds = config.robots and (frontier is not None or holds)
        self.held = Held() if frontier is not None and self.holds else None
        self._resumed: dict[str, str | None] = {}  # held pages whose turn came: URL -> note

    def stopping(self) -> bool:
        """True once the crawl is stopping: this loop's frontier is closed. (A processes child
        has none: its parent stops it.)"""
        return self.frontier is not None and self.frontier.closed

    def schedule(self, requests: Iterable[Request]) -> int:
        """Claim the requests' URLs in the visited set (one round trip) and queue the new ones."""
        fresh = self.claim(requests)
        return self.frontier.push_many(fresh) if fresh else 0

    def claim(self, requests: Iterable[Request]) -> list[Request]:
        """Claim the requests' URLs in the visited set (one round trip); return the new ones."""
        return claim_new(self.visited, requests)

    def run(self) -> None:
        """Work until the frontier is finished or closed; always releases the fetcher."""
        try:
            while (request := self.next_request()) is not None:
                self.handle(request)
        except KeyboardInterrupt:
            self.interrupt_held()
            raise
        finally:
            self.close()

    def next_request(self) -> Request | None:
        """The loop's next page: a held page whose turn has come, else the frontier's next one
        (waiting at most until a held page's turn). None once the frontier is finished or
        closed. A crawl that stops does not wait for the pages it holds: each is recorded as
        ``interrupted`` (it was handed out, so it gets a record) and ``done``."""
        held, frontier = self.held, self.frontier
        while held:
            if frontier.closed:
                self.interrupt_held("the crawl stopped while the page waited for its host's turn")
                break
            wait = held.next_turn() - time.monotonic()
            if wait <= 0:
                request, note = held.take()
                self.resume(request.url, note)
                return request
            request = frontier.pop(timeout=wait)
            if request is not None:
                return request
        return frontier.pop()

    def resume(self, url: str, note: str | None) -> None:
        """``url`` was held back before (``Fetched.turn``) and now has its turn: its fetch takes
        a start of its own on the host clock, and its record says ``note``."""
        self._resumed[url] = note

    def hold(self, fetched: Fetched) -> None:
        """Keep a page that must wait for its host's turn (``Fetched.turn``) in the loop."""
        assert self.held is not None and fetched.turn is not None
        self.held.add(fetched.turn, fetched.request, fetched.note)

    def interrupt_held(self, why: str = "stopped by Ctrl-C") -> None:
        """Every held page gets its ``interrupted`` record (``why``) and is ``done``."""
        if self.held:
            for request in self.held.take_all():
                self.emit(self.failed(request, "interrupted", why))
                self.frontier.done(request)

    def flush_pages(self) -> None:
        """Send the page states this loop's store holds back, if it batches them (a processes child
        after each batch: its loops are never closed)."""
        if self.pages is not None:
            self.pages.flush()

    def close(self) -> None:
        """Release the fetcher and the page-state connection."""
        self.fetcher.close()
        if self.pages is not None:
            self.pages.close()

    def handle(self, request: Request) -> None:
        """Crawl one request: its record is emitted and its new links queued before ``done``."""
        try:
            fetched = self.fetch_page(request)
            if fetched.turn is not None:
                self.hold(fetched)
                return
            ended = time.monotonic()
            record, children = self.read_page(fetched)
        except KeyboardInterrupt:
            self.interrupted(request)
            raise
        self.settle(request, record, children, ended)

    def interrupted(self, request: Request) -> None:
        """Ctrl-C reached this loop in the middle of ``request``: its record says so, it is
        ``done``, and the frontier is closed. The caller re-raises ``KeyboardInterrupt``."""
        self.emit(self.failed(request, "interrupted", "stopped by Ctrl-C"))
        self.frontier.done(request)
        self.frontier.close()

    def settle(
        self, request: Request, record: Record, children: list[Request], ended: float = 0.0
    ) -> None:
        """Queue a crawled page's new links and emit its record, then mark it ``done``.
        ``ended``: when (``time.monotonic()``) its network half ended: its host's next start
        keeps the delay from then, not from after the parsing."""
        try:
            if children:
                self.schedule(children)
            self.emit(record)
        finally:
            self.frontier.done(request, time.monotonic() - ended if ended else 0.0)

    def crawl(self, request: Request) -> tuple[Record, list[Request]]:
        """Fetch and parse one page without touching the frontier: its record (a bug becomes an
        ``internal`` record) and the requests it leads to, not yet claimed."""
        return self.read_page(self.fetch_page(request))

    # ``crawl`` in two halves, for strategies that overlap them (``strategies/_overlap.py``): the
    # network half waits, the reading half costs CPU. ``read_page`` only reads the worker's
    # settings, so it may run while the same worker already fetches its next page.

    def fetch_page(self, request: Request) -> Fetched:
        """The network half of ``crawl``: robots, politeness and retries, up to the response."""
        try:
            resumed = self._resumed.pop(request.url, _FIRST) if self._resumed else _FIRST
            if resumed is _FIRST:
                self.retrier.grant(request.url)  # the frontier booked this page's start
            if request.parse_as == "robots":  # --sitemaps: robots.txt through the robots cache
                self.robots.sitemaps(request.url)
                return Fetched(request, worker=self.name)
            if self.config.robots and (why := self.robots.denied(request.url)):
                return Fetched(request, record=self.failed(request, "robots", why))
            note = self.robots.take_note() if self.config.robots else None
            if resumed is not _FIRST:
                note = resumed
            elif self.holds and (turn := self.robots.take_turn()) is not None:
                return Fetched(request, worker=self.name, note=note, turn=turn)
            known = self.pages.get(request.url) if self._lookup else None
            headers = known.headers() if known is not None else None
            response, attempts = self.retrier.fetch(request.url, headers=headers)
            return Fetched(request, response, attempts, self.name, known=known, note=note)
        except Exception as exc:  # a bug in one page must not kill the loop or lose the page
            return Fetched(request, record=self.failed(request, "internal", one_line(exc)))

    def prime(self, request: Request) -> bool:
        """Send ``request``'s HTTP request now, before the page in hand is read, where
        ``fetch_page(request)`` would send it at once and as it is: a plain page (no re-crawl
        validators, no held turn), its robots.txt already here and allowing it, its host free
        to start (the frontier booked it), a fetcher that can (``prime``: libcurl's). The server
        answers while the loop reads; ``fetch_page`` takes the answer up. True if it was sent."""
        prime = getattr(self.fetcher, "prime", None)
        free = getattr(self.retrier.clock, "free", None)
        if prime is None or free is None or self._lookup or self.retrier.throttled:
            return False
        if request.parse_as or request.url in self._resumed:
            return False
        if self.config.robots and not self.robots.allows_known(request.url):
            return False
        if not free(host_key(request.url), True):
            return False
        return bool(prime(request.url))

    def read_page(self, fetched: Fetched) -> tuple[Record, list[Request]]:
        """The CPU half of ``crawl``: the page's record and the requests it leads to."""
        if fetched.record is not None:
            return fetched.record, []
        try:
            if fetched.request.parse_as:
                return self.read_sitemap(fetched)
            record, children = self.process(fetched)
            if self.pages is not None and not record.not_modified:
                self.remember(fetched, record, children)
            return record, children
        except Exception as exc:  # a bug in one page must not kill the loop or lose the page
            return self.failed(fetched.request, "internal", one_line(exc)), []

    def failed(self, request: Request, error: str, detail: str | None = None) -> Record:
        """A record for a request that ended without a usable response."""
        return failed_record(request, error, detail, mode=self.config.mode, worker=self.name)

    def process(self, fetched: Fetched) -> tuple[Record, list[Request]]:
        """Read one fetched page: its record, and the requests it leads to."""
        request, response = fetched.request, fetched.response
        assert response is not None
        record = Record(
            url=request.url,
            final_url=request.url,
            status=response.status,
            error=response.error,
            detail=response.detail,
            depth=request.depth,
            parent=request.parent,
            content_type=response.content_type,
            bytes=len(response.body),
            elapsed_ms=response.elapsed_ms,
            mode=self.config.mode,
            worker=fetched.worker,
            redirects=list(request.chain),
            attempts=fetched.attempts,
            via=request.via,
        )
        if fetched.note is not None:
            note = fetched.note
            record.detail = note if record.detail is None else f"{record.detail}; {note}"
        if response.body:
            record.digest = body_digest(response.body)
        if self.config.warc or self.config.save_dir:
            # A 304 to a conditional request is archived as a revisit of the payload last seen.
            seen = fetched.known.digest if fetched.known is not None else None
            record.archive = payload_for(
                self.config, response, revisit_of=seen, digest=record.digest
            )
        if response.error:
            return record, []
        if fetched.known is not None and response.status == 304:
            return record, self.not_modified(request, record, fetched.known)
        if response.status in REDIRECT_STATUSES and "location" in response.headers:
            return record, self.redirect(request, response, record)
        if response.status is not None and response.status >= 400:
            record.error, record.detail = "http_error", f"HTTP {response.status}"
            return record, []
        if record.content_type is not None and record.content_type not in self.config.accept:
            return record, []
        return record, self.links(request, response, record)

    def not_modified(self, request: Request, record: Record, known: PageState) -> list[Request]:
        """A 304 to a conditional request: the stored page stands (title, links, state kept
        as they are) and its stored links are followed without reading it."""
        record.not_modified, record.changed = True, False
        record.title, record.links = known.title, known.link_count
        record.digest = known.digest  # the payload last seen (a WARC revisit refers to it)
        record.content_type = record.content_type or known.content_type
        return self.follow(request, known.links)

    def remember(self, fetched: Fetched, record: Record, children: list[Request]) -> None:
        """Compare a fetched page with its stored state (``record.changed``) and keep the new
        state: a 2xx page's replaces it, a redirect or a 4xx drops it, a failure leaves it."""
        assert self.pages is not None and fetched.response is not None
        request, response, known = fetched.request, fetched.response, fetched.known
        status = response.status if response.error is None else None
        new = None
        if status is not None and 200 <= status < 300:
            new = page_state(request, status, response.headers, response.body, record, children)
        record.changed = compare(known, status, new)
        if new is not None and new != known:
            self.pages.put(request.url, new)
        elif new is None and known is not None and record.changed:
            self.pages.drop(request.url)

    def read_sitemap(self, fetched: Fetched) -> tuple[Record, list[Request]]:
        """``read_page`` for a request read as a sitemap, or as robots.txt for its Sitemap
        lines (``crawler/sitemap_page.py``)."""
        request, response = fetched.request, fetched.response
        record = self.failed(request, None)
        if response is None:  # robots.txt, read in fetch_page through the robots cache
            return robots_sitemap_lines(request, record, self.robots.sitemaps, self.scope)
        record.attempts = fetched.attempts
        return sitemap_page(request, response, record, self.config, self.scope, self.redirect)

    def redirect(self, request: Request, response: Response, record: Record) -> list[Request]:
        """Schedule a redirect target as a request of its own, at the same depth
        (``crawler/redirects.py``)."""
        return follow_redirect(request, response, record, self.scope, self.config.max_redirects)

    def redirect_scope(self, request: Request, target: str) -> str | None:
        """The seed host ``target`` is crawled under, or None when it is out of scope."""
        return redirect_scope(self.scope, request, target)

    def links(self, request: Request, response: Response, record: Record) -> list[Request]:
        """Title and link count into the record; in-scope links as child requests."""
        page = page_links(
            request.url,
            response.body,
            response.headers.get("content-type"),
            follow_nofollow=self.config.follow_nofollow,
        )
        record.title, record.links, record.dropped_links = page.title, len(page.links), page.dropped
        children = self.follow(request, page.links)
        if self.config.parse is not None:
            scraped = self.scrape(request, response, record, page.encoding, page.base, page.links)
            children += self.follow(request, scraped)
        return children

    def follow(self, request: Request, urls: Iterable[str]) -> list[Request]:
        """Child requests for ``urls`` (normal form) reached from ``request``'s page: one hop
        deeper, within the depth limit and the scope."""
        if request.depth >= self.config.depth:
            return []
        urls = urls if isinstance(urls, list) else list(urls)
        allowed = self.scope.filter(urls, request.seed_host)
        return children_of(allowed, request.depth + 1, request.url, request.seed_host)

    def scrape(
        self,
        request: Request,
        response: Response,
        record: Record,
        encoding: str,
        base: str,
        links: Iterable[str],
    ) -> list[str]:
        """Run the user's parse callback on the page (``encoding``: what the body was read as):
        its items go into the record, an error it raises into ``error``/``detail``; returns the
        URLs it asks to follow (resolved)."""
        page = Page(
            url=request.url,
            status=response.status,
            headers=response.headers,
            body=response.body,
            content_type=record.content_type,
            encoding=encoding,
            depth=request.depth,
            parent=request.parent,
            title=record.title,
            base_url=base,
            links=list(links),
        )
        scraped = run_callback(self.config.parse, page)
        record.items = scraped.items
        if scraped.error is not None:
            record.error, record.detail = "parse_callback", scraped.error
        return [url for href in scraped.follows if (url := resolve(base, href))]


def process_name(config: CrawlConfig, pid: int | None = None) -> str:
    """How records name a process (``pid``, default this one): its pid, and on a crawl shared
    by several machines (``--backend``) ``HOST:PID``, as pids alone would collide there."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}" if config.backend else str(pid)


def failed_record(
    request: Request, error: str, detail: str | None, *, mode: str, worker: str | None
) -> Record:
    """The record of a request that ended without a usable response (no fetch, or no result
    from the process that had it)."""
    return Record(
        url=request.url,
        error=error,
        detail=detail,
        depth=request.depth,
        parent=request.parent,
        mode=mode,
        worker=worker,
        redirects=list(request.chain),
        via=request.via,
    )
