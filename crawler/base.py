"""The seams of the crawler: one small Protocol each, plus the plain data that crosses them.

A new strategy or backend is one new module implementing one of these; the crawl logic in
``worker.py`` and ``engine.py`` only ever talks to these interfaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from crawler.config import CrawlConfig
    from crawler.record import EncodedRecord, Record


class Request(NamedTuple):
    """One URL to crawl. Plain data: it is pickled to processes and encoded for Redis."""

    url: str
    depth: int = 0
    parent: str | None = None
    seed_host: str = ""
    # Redirect hops that led here (a redirect target is scheduled as its own request).
    chain: tuple[str, ...] = ()
    # How the URL entered the crawl, when not as a seed or a link: "sitemap" (listed in a
    # sitemap), "robots" (a sitemap named by robots.txt, or /sitemap.xml). Its record's ``via``.
    via: str | None = None
    # How to read the response: "" a page; "sitemap" a sitemap; "robots" read the origin's
    # robots.txt (through the robots cache) for its Sitemap lines (crawler/sitemaps/).
    parse_as: str = ""


@dataclass(slots=True)
class Response:
    """One HTTP exchange (no redirects followed), or a classified failure (``error`` set)."""

    url: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    elapsed_ms: float = 0.0
    error: str | None = None
    detail: str | None = None
    # True when the failure spent the whole page deadline: a retry would not help.
    final: bool = False
    # The raw exchanges for the archive (``crawler.http.capture.Exchange``), only with --warc:
    # this response's, after those of the attempts that were retried (``http/retry.py``).
    exchanges: tuple[Any, ...] = ()
    # A ``too_large`` body's pieces read before the cap (a sitemap keeps the URLs in them).
    partial: tuple[bytes, ...] = ()

    @property
    def content_type(self) -> str | None:
        """The media type without parameters, lower-cased."""
        value = self.headers.get("content-type")
        return value.split(";", 1)[0].strip().lower() if value else None


class Fetcher(Protocol):
    """Request in, response or a classified error out. Never raises for network failures.

    A fetcher may also offer ``prime(url) -> bool``: send the request for ``url`` now, and
    have the next ``fetch(url)`` take its answer up (any other ``fetch`` drops it first). The
    lookahead mode uses it where it is there (libcurl's fetcher); none has to.
    """

    def fetch(
        self, url: str, *, user_headers: bool = True, headers: Mapping[str, str] | None = None
    ) -> Response:
        """GET ``url`` once; ``user_headers=False`` sends none of the user's ``-H`` headers
        (a robots.txt redirect off its origin); ``headers`` are this request's own (a
        re-crawl's ``If-None-Match``), sent last."""
        ...

    def close(self) -> None: ...


class Visited(Protocol):
    """The set of URL fingerprints already scheduled in this crawl.

    Invariant (with ``Frontier.push_many``): a URL is queued at most once per crawl, however
    many workers, processes or machines find it. Where that check-and-set happens is the
    backend's choice: in ``claim_many`` (memory, the manager: one atomic step under a lock) or
    in ``push_many`` (Redis, SQLite: the push claims and queues in one script or transaction,
    so ``claim_many`` is only a cheap pre-filter there).
    """

    def claim_many(self, keys: Sequence[bytes]) -> list[bytes]:
        """Those of ``keys`` not yet claimed, in order, each once. A backend that claims here
        adds them in the same atomic step; one that claims in ``push_many`` only filters."""
        ...


class Frontier(Protocol):
    """The queue of requests still to crawl, scheduled by host. It owns termination.

    Invariants, in every backend:

    * the crawl is finished only when nothing is queued **and** nothing is in flight (popped
      but not yet ``done``), across every worker;
    * ``pop`` hands out only a request whose host may start now: the host's delay (``--delay``,
      its robots.txt ``Crawl-delay``, the auto-throttle) has passed since its previous page
      *ended* (``done``, or its record in Redis: a request leaves at a varying lag after its
      hand-out, but always before its page's network half ends, which is when ``done``
      says the page ended), a host with a delay has no page in flight,
      and fewer than ``--per-host`` of its requests are in flight; with robots.txt obeyed, a
      host has one page out until its robots.txt has answered (``HostClock.set_delay``) or
      that page is done. Ready hosts go first to the one with the fewest in flight; within a
      host, requests go breadth-first (by depth);
    * a hand-out books the host's next start on the crawl's host schedule, which the
      ``HostClock`` shares: no loop sleeps on a host while another host is ready.
    """

    closed: bool

    def push_many(self, requests: Iterable[Request]) -> int:
        """Queue requests that ``Visited.claim_many`` returned, each under its host, within the
        ``--max-pages`` and ``--max-pages-per-host`` budgets; return how many were accepted (a
        backend that claims here also drops what another worker claimed meanwhile)."""
        ...

    def pop(self, timeout: float | None = None) -> Request | None:
        """The next request whose host may start now. Waits while no host is ready (only until
        the earliest one is) or while nothing is queued but requests are in flight. None once
        finished or closed, or when ``timeout`` seconds pass first (the crawl may go on).
        A caller that itself holds every request in flight (a processes parent) passes
        ``timeout=0``: a shared backend then returns None rather than wait for itself."""
        ...

    def done(self, request: Request, ago: float = 0.0) -> None:
        """Mark a popped request finished (after its new links were pushed): its host's slot
        is free again. ``ago``: seconds since the page's last request ended (its network
        half: a caller that parses first, or learns of pages in batches, a processes parent,
        says so), so that the host's next start keeps the delay from that end, not from now."""
        ...

    def close(self) -> None:
        """Stop handing out requests (Ctrl-C, early ``break``, max pages); wakes waiting pops."""
        ...

    def snapshot(self) -> dict[str, int]:
        """Counts for progress and health: ``queued``, ``in_flight`` and ``skipped`` (beyond
        ``--max-pages-per-host``), crawl-wide for a shared backend; a frontier that moves
        queued requests to disk (memory, past ``--memory-limit``) also ``spilled`` (how many
        it wrote), the others none. ``queued`` counts requests wherever they wait."""
        ...


class Sink(Protocol):
    """Where records go. Sinks run in the single pipeline consumer, so they need no locks.

    A sink may also offer ``write_encoded(record: EncodedRecord)``, to take a record that a
    child process already encoded without decoding it; any other sink gets it decoded.
    """

    def write(self, record: Record) -> None: ...

    def close(self) -> None: ...


Emit = Callable[["Record"], None]
# What a strategy hands records to: a Record, or one already encoded in a child process.
Consume = Callable[["Record | EncodedRecord"], None]


class Sync(Protocol):
    """The primitives a strategy brings (``threading``'s, gevent's once patched, or none).

    Crawl state built by a backend uses these, so the engine never imports a concurrency library.
    A strategy whose one thread pops the frontier for loops elsewhere (the processes parent)
    brings a sync with ``dispatcher = True``: its pops are hand-offs, not a loop that fetched
    its last page and asks for the next, which a frontier may otherwise keep on its host.
    """

    def lock(self) -> Any:
        """A mutual-exclusion lock usable with ``with``."""
        ...

    def condition(self) -> Any:
        """A condition variable (``with``, ``wait``, ``notify_all``)."""
        ...


class HostClock(Protocol):
    """Per-host politeness for the requests a worker sends, on the same host schedule as the
    crawl's frontier (which enforces the ``--per-host`` cap and books each page's first start
    when it hands the page out).

    Invariant: across all workers, processes and machines, two request starts to one host are
    at least the host's delay apart: ``acquire`` returns at the earliest then. A *granted*
    acquire (the first request of a handed-out page) only keeps that distance from the host's
    previous start; any other (robots.txt, a retry) books the host's next free start, which
    pushes its next hand-out back.
    """

    def acquire(self, host: str, granted: bool = False) -> None:
        """Block until this worker may send one request to ``host``."""
        ...

    def release(self, host: str) -> None:
        """The request to ``host`` is over (success or failure)."""
        ...

    def set_delay(self, host: str, seconds: float) -> float:
        """Raise ``host``'s delay (robots.txt ``Crawl-delay``), never lowering it and never
        above ``--max-crawl-delay``; return the delay in force. Called once ``host``'s
        robots.txt has answered, with 0 when it sets no delay: with robots.txt obeyed the
        frontier then hands out more than the host's first page."""
        ...

    def observe(
        self, host: str, latency: float, status: int | None, retry_after: float | None
    ) -> None:
        """One response from ``host`` (seconds, status, ``Retry-After`` seconds): with
        ``--auto-throttle`` the host's delay follows it; otherwise nothing."""
        ...


class RobotsCache(Protocol):
    """robots.txt bodies per origin (``scheme://host:port``), fetched once per crawl.

    Entries are plain data (``RobotsEntry`` in ``crawler/politeness/robots.py``: a tuple of
    strings), so a Manager or Redis can hold them. One worker ``claim``s an origin and fetches;
    the others ``wait`` for its ``put``, or claim it themselves once it was ``release``d.
    """

    def get(self, origin: str) -> tuple[str, str] | None:
        """The entry for ``origin``, or None when nobody has stored it yet."""
        ...

    def claim(self, origin: str) -> bool:
        """True for exactly one caller per origin: that caller must fetch and ``put``."""
        ...

    def put(self, origin: str, entry: tuple[str, str]) -> None:
        """Store ``origin``'s entry and wake the workers waiting for it."""
        ...

    def release(self, origin: str) -> None:
        """Give up a ``claim`` without an entry (the fetch raised): a later ``claim`` succeeds
        again, so a waiting worker fetches instead."""
        ...

    def wait(self, origin: str, timeout: float) -> tuple[str, str] | None:
        """Wait up to ``timeout`` seconds for ``origin``'s entry; None if it is still missing."""
        ...


class Backend(Protocol):
    """Where a crawl's shared state lives: frontier, visited set, host clock, robots cache.

    ``memory`` (the default) keeps it in this process; a networked backend (Redis) keeps it in a
    server so that many processes and machines share one crawl.
    """

    name: str
    # True when every process may open its own handles on the same state (a server): the
    # processes strategy then lets children use the backend directly instead of a Manager.
    shared: bool
    # True when the state outlives this process (Redis, a --state file): Ctrl-C then lets the
    # pages in flight finish (the engine closes the frontiers) so that a resumed crawl
    # fetches nothing twice.
    durable: bool
    # True when ``Visited.claim_many`` claims for good: a key it has been asked about is
    # claimed from then on (by that call or an earlier one), for the rest of the crawl. A
    # process may then remember the keys it asked about and not ask again (the processes
    # strategy's children do: ``strategies/processes/known.py``). False where the claim is
    # made elsewhere (``push_many``: SQLite, Redis).
    claims_in_visited: bool

    def frontier(self, config: CrawlConfig, sync: Sync) -> Frontier:
        """This crawl's frontier, built with the strategy's primitives."""
        ...

    def visited(self, config: CrawlConfig, sync: Sync) -> Visited:
        """This crawl's visited set, built with the strategy's primitives."""
        ...

    def record_sink(self, config: CrawlConfig) -> Sink | None:
        """A sink that keeps every record with the crawl's state and ends the URL's lease in
        the same step (so a URL ends with exactly one record); None when there is none."""
        ...

    def host_clock(self, config: CrawlConfig, sync: Sync) -> HostClock:
        """This crawl's per-host politeness clock, shared by all its workers."""
        ...

    def robots_cache(self, config: CrawlConfig, sync: Sync) -> RobotsCache:
        """This crawl's robots.txt cache, shared by all its workers."""
        ...

    def close(self) -> None:
        """Release connections or files (the crawl is over, however it ended, and every loop
        has returned): the memory backend's frontiers delete their spill files here."""
        ...


class Strategy(Protocol):
    """How many worker loops run, and where. Decides nothing about the crawl itself."""

    name: str

    def run(self, job: CrawlJob, consume: Consume) -> None:
        """Run the crawl described by ``job``; call ``consume`` with every record (a
        ``Record``, or an ``EncodedRecord`` where it was made in another process), on the
        calling thread, in one consumer. Returns when the frontier is finished or closed.

        Build the frontier with ``job.backend.frontier(...)`` in the calling process:
        ``Crawler.stop`` (an early ``break`` out of ``crawl()``) closes the frontiers built
        there, possibly from another thread, and expects the loops to end as at a natural end.
        """
        ...


@dataclass
class CrawlJob:
    """What a strategy needs to run a crawl: settings, backend and the initial requests."""

    config: CrawlConfig
    backend: Backend
    seeds: list[Request]
    # Records produced before any fetch (invalid seed lines); the strategy passes them on first.
    early_records: list[Record] = field(default_factory=list)
