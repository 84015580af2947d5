"""One frozen settings object for a crawl, built at the edge (CLI or API) and passed down."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from crawler.errors import ConfigError
from crawler.version import __version__

if TYPE_CHECKING:
    from crawler.scrape.page import Page

DEFAULT_USER_AGENT = f"crawler/{__version__} (+https://pypi.org/project/crawler/)"
# The registries: each mode's strategy module (``crawler/strategies/``) and each fetcher's class,
# by name. Imported only when chosen, so naming them here costs nothing.
MODES = {
    "serial": "crawler.strategies.serial",
    "lookahead": "crawler.strategies.lookahead",
    "threads": "crawler.strategies.threads",
    "gevent": "crawler.strategies.gevent",
    "processes": "crawler.strategies.processes.strategy",
}
FETCHERS = {
    "urllib3": "crawler.http.urllib3_fetcher:Urllib3Fetcher",
    "requests": "crawler.http.requests_fetcher:RequestsFetcher",
    "curl": "crawler.http.curl_fetcher:CurlFetcher",
}
# Modes whose worker loops run in other processes: the parse callback reaches them by name.
PROCESS_MODES = frozenset({"processes"})
# Modes that run one loop, whatever ``workers`` says.
ONE_LOOP_MODES = frozenset({"serial", "lookahead"})
DEFAULT_ACCEPT = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, kw_only=True)
class CrawlConfig:
    """Every option of a crawl. Immutable: use ``with_options`` to derive a variant."""

    mode: str = "serial"
    workers: int = 16
    # Greenlets per process in ``processes`` mode (0: one page at a time per process).
    greenlets: int = 0
    depth: int = 0
    max_pages: int | None = None
    same_domain: bool = True
    allow_domains: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    follow_nofollow: bool = False
    timeout: float = 10.0
    deadline: float | None = None
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 10
    user_agent: str = DEFAULT_USER_AGENT
    progress: bool = False
    fetcher: str = "urllib3"
    # Where the crawl's state lives: None (this process), a Redis URL shared by many workers,
    # or a SQLite file (``state``) that makes a one-machine crawl resumable. Not in the repr:
    # the URL may hold the server's password (messages show ``redact_url(backend)``).
    backend: str | None = field(default=None, repr=False)
    crawl_id: str = "default"
    # Seconds a Redis outage is ridden out (connection errors retried with backoff) before the
    # crawl stops with ``CrawlLost`` (exit 3); 0 fails at the first error.
    backend_retry: float = 30.0
    state: str | None = None
    # Bytes the in-memory backend aims to stay under: past half of it, queued requests spill to
    # temporary files (crawler/backends/memory/spill.py). None or 0: no bound.
    memory_limit: int | None = 1024**3
    # Start a finished durable crawl over: every stored page again, asked conditionally
    # (crawler/recrawl.py).
    recrawl: bool = False
    # Seconds a popped URL stays leased to a worker without a heartbeat before any worker may
    # queue it again (a worker that died); its heartbeat renews it every third of this.
    lease_seconds: float = 30.0
    # Scraping (see crawler/scrape/page.py): parse(page) returns or yields items and Follow(url)s.
    parse: Callable[[Page], Any] | None = None
    # Where records (JSON Lines, or CSV by extension; "-" is stdout) and items go, if anywhere.
    output: str | None = None
    items_output: str | None = None
    # Keeping what was crawled (docs/archiving.md): a WARC file, rotated past ``warc_max_size``
    # bytes into numbered files, and a wget-like mirror of the pages under ``save_dir``.
    warc: str | None = None
    warc_max_size: int = 1024**3
    save_dir: str | None = None
    # Politeness and HTTP behaviour (docs/politeness.md).
    robots: bool = True
    delay: float = 0.0
    per_host: int | None = None
    # The longest robots.txt Crawl-delay obeyed: a host asking for more is crawled at this.
    max_crawl_delay: float = 30.0
    # Each host's delay follows its response time (docs/politeness.md), never below ``delay``.
    auto_throttle: bool = False
    # AutoThrottle's aim: requests in flight per host (Scrapy's AUTOTHROTTLE_TARGET_CONCURRENCY).
    throttle_target: float = 1.0
    # Pages queued per host at most; the URLs beyond are skipped (counted, not recorded).
    max_pages_per_host: int | None = None
    retries: int = 2
    retry_backoff: float = 0.5
    max_retry_wait: float = 60.0
    accept: tuple[str, ...] = DEFAULT_ACCEPT
    headers: tuple[tuple[str, str], ...] = ()
    proxy: str | None = None
    block_private: bool = False
    # Sitemaps as seeds (docs/sitemaps.md): read each seed origin's robots.txt Sitemap lines
    # (or /sitemap.xml); keep only URLs whose lastmod is on or after ``sitemap_since``.
    sitemaps: bool = False
    sitemap_since: str | None = None
    # (origin, Authorization value) pairs: Basic auth from seed URLs' userinfo, sent to that
    # origin only (crawler/http/credentials.py). Filled by the engine; never shown or stored.
    credentials: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for name in ("allow_domains", "exclude"):  # a lone string is one value, not characters
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.mode not in MODES:
            raise ConfigError(f"unknown mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.fetcher not in FETCHERS:
            raise ConfigError(
                f"unknown fetcher {self.fetcher!r}; choose one of {', '.join(FETCHERS)}"
            )
        _check_fetcher(self)
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if self.greenlets < 0:
            raise ConfigError("greenlets must be 0 or more")
        if self.greenlets and self.mode != "processes":
            raise ConfigError("--greenlets applies to --mode processes only")
        if self.depth < 0:
            raise ConfigError("depth must be 0 or more")
        if self.max_pages is not None and self.max_pages < 1:
            raise ConfigError("max-pages must be at least 1")
        if self.timeout <= 0:
            raise ConfigError("timeout must be positive")
        if self.max_bytes < 1:
            raise ConfigError("max-bytes must be at least 1")
        if self.memory_limit is not None and self.memory_limit < 0:
            raise ConfigError("memory-limit must be 0 (none) or more bytes")
        _check_backend(self)
        if self.warc_max_size < 1024 * 1024:
            raise ConfigError("--warc-max-size must be at least 1 MB")
        if self.delay < 0 or self.retries < 0 or self.retry_backoff < 0:
            raise ConfigError("delay, retries and retry backoff must be 0 or more")
        if self.max_retry_wait < 0:
            raise ConfigError("max-retry-wait must be 0 or more")
        if self.per_host is not None and self.per_host < 1:
            raise ConfigError("per-host must be at least 1")
        if self.max_crawl_delay < 0:
            raise ConfigError("max-crawl-delay must be 0 or more")
        if self.throttle_target <= 0:
            raise ConfigError("throttle-target must be positive")
        if self.max_pages_per_host is not None and self.max_pages_per_host < 1:
            raise ConfigError("max-pages-per-host must be at least 1")
        if self.deadline is not None and self.deadline <= 0:
            raise ConfigError("deadline must be positive")
        if self.proxy is not None:
            parts = urlsplit(self.proxy)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"--proxy wants an http:// or https:// URL, got {self.proxy!r}")
        object.__setattr__(self, "accept", tuple(t.strip().lower() for t in self.accept))
        object.__setattr__(self, "headers", tuple((str(k), str(v)) for k, v in self.headers))
        credentials = self.credentials
        pairs = credentials.items() if isinstance(credentials, dict) else credentials
        object.__setattr__(self, "credentials", tuple((str(o), str(v)) for o, v in pairs))
        for pattern in self.exclude:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"--exclude {pattern!r} is not a valid regex: {exc}") from None
        object.__setattr__(
            self, "allow_domains", tuple(d.lower().strip(".") for d in self.allow_domains)
        )
        if self.sitemap_since is not None and not self.sitemaps:
            raise ConfigError("--sitemap-since applies with --sitemaps only")
        if self.sitemap_since is not None and self.since_date is None:
            raise ConfigError(
                f"--sitemap-since {self.sitemap_since!r} is not a date (YYYY-MM-DD, or a "
                "W3C datetime such as 2024-05-01T12:00:00Z)"
            )
        if self.parse is not None:
            if not callable(self.parse):
                raise ConfigError("parse must be a callable that takes a Page")
            if self.mode in PROCESS_MODES:
                from crawler.scrape.callbacks import check_importable

                check_importable(self.parse, "parse", self.mode)

    @property
    def page_deadline(self) -> float:
        """Overall seconds one page may take, whatever the server trickles."""
        return self.deadline if self.deadline is not None else 3 * self.timeout

    @cached_property
    def exclude_patterns(self) -> tuple[re.Pattern[str], ...]:
        """``exclude`` compiled once."""
        return tuple(re.compile(p) for p in self.exclude)

    @cached_property
    def since_date(self) -> datetime | None:
        """``sitemap_since`` as an aware datetime (UTC when it names no zone)."""
        from crawler.sitemaps.dates import parse_date

        return parse_date(self.sitemap_since) if self.sitemap_since else None

    def with_options(self, **changes: object) -> CrawlConfig:
        """A copy with some options changed (validated again)."""
        return replace(self, **changes)


def _check_fetcher(config: CrawlConfig) -> None:
    if config.fetcher != "curl":
        return
    if config.mode == "gevent" or config.greenlets:
        where = "--mode gevent" if config.mode == "gevent" else "--greenlets"
        raise ConfigError(
            f"--fetcher curl cannot run with {where}: libcurl waits on its own sockets and would "
            "block every greenlet; use it with serial, threads or processes (no --greenlets)"
        )
    from importlib.util import find_spec  # finds, does not import

    if find_spec("pycurl") is None:
        raise ConfigError("--fetcher curl needs pycurl: pip install 'crawler[curl]'")


_CRAWL_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
_BACKEND_SCHEMES = ("redis://", "rediss://", "unix://")


def _check_backend(config: CrawlConfig) -> None:
    if config.backend is not None and not config.backend.startswith(_BACKEND_SCHEMES):
        shown = redact_url(config.backend)
        raise ConfigError(f"--backend {shown!r} is not a Redis URL (redis://HOST:PORT/DB)")
    if config.backend is not None and config.state is not None:
        raise ConfigError("--backend and --state are exclusive: Redis already keeps the state")
    if config.recrawl and config.backend is None and config.state is None:
        raise ConfigError(
            "--recrawl needs a crawl that keeps its state: --state FILE or --backend URL"
        )
    if not _CRAWL_ID.fullmatch(config.crawl_id):
        raise ConfigError(
            f"--crawl-id {config.crawl_id!r}: use 1-100 letters, digits, '.', '_' or '-'"
        )
    if config.backend_retry < 0:
        raise ConfigError("--backend-retry must be 0 or more seconds")
    if config.lease_seconds < 0.5:
        raise ConfigError("--lease must be at least 0.5 seconds")


_SECRET_PARAMS = frozenset({"password", "pass", "pwd"})


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, whether in the user info
    (``redis://:s3cret@host``, ``redis://user:s3cret@host``) or in the query (``unix://`` URLs
    take ``?password=``). Anything that does not parse is shown as ``***`` whole."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, has_password, _ = userinfo.partition(":")
            netloc = f"{user}:***@{hostport}" if has_password else f"{user}@{hostport}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k.lower() in _SECRET_PARAMS for k, _ in pairs):
                query = urlencode(
                    [(k, "***" if k.lower() in _SECRET_PARAMS else v) for k, v in pairs],
                    safe="*",
                )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "***"


def scrub(text: str, url: str | None) -> str:
    """``text`` (an error message) with every secret of ``url`` replaced by ``***``."""
    if not url:
        return text
    text = text.replace(url, redact_url(url))
    try:
        parts = urlsplit(url)
        secrets = [parts.password or ""]
        secrets += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS]
    except ValueError:
        return "***"
    for secret in secrets:
        if len(secret) >= 3:  # a one-letter password would blank out half the message
            text = text.replace(secret, "***")
    return text
