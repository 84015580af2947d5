"""Page-state stores by backend (``crawler/recrawl.py``): the durable backends keep one beside
the frontier; the in-memory crawl keeps none. Imported only when chosen."""

from __future__ import annotations

from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.errors import ConfigError
from crawler.recrawl import PageStore


def open_pages(config: CrawlConfig) -> PageStore | None:
    """A connection of the caller's own to the crawl's page states (Redis for ``backend``,
    the SQLite file for ``state``), or None when the crawl keeps no state."""
    if config.backend is not None:
        from crawler.backends.redis.pages import RedisPages

        return RedisPages(config.backend, config.crawl_id, retry=config.backend_retry)
    if config.state is not None:
        from crawler.backends.sqlite.pages import SqlitePages

        return SqlitePages(config.state)
    return None


def begin_recrawl(config: CrawlConfig) -> list[Request]:
    """Start a re-crawl of a finished durable crawl: its frontier, visited set and records
    are emptied, its page states kept; returns the stored pages' requests, to queue again."""
    store = open_pages(config)
    if store is None:
        raise ConfigError(
            "--recrawl needs a crawl that keeps its state: --state FILE or --backend URL"
        )
    try:
        return store.begin_recrawl()
    finally:
        store.close()
