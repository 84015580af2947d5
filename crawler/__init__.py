"""crawler: a concurrent web crawler with one engine and several concurrency strategies.

    import crawler

    for record in crawler.crawl("https://example.org/", depth=2, mode="threads"):
        print(record.url, record.status, record.title)

Importing this package stays light: the names below load on first use, and none of them imports
the HTTP stack (``requests``, ``ssl``) or gevent, so a gevent program can import the crawler
and monkey-patch afterwards, as long as it patches before the first crawl.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from crawler.version import __version__

if TYPE_CHECKING:
    from crawler.config import CrawlConfig
    from crawler.engine import Crawler
    from crawler.errors import (
        ConfigError,
        CrawlerError,
        InvalidURL,
        ModeUnavailable,
        OutputError,
        SourceError,
    )
    from crawler.record import Record
    from crawler.scrape.page import Follow, Page
    from crawler.stats import Stats
    from crawler.stream import CrawlStream, crawl

_WHERE = {
    "crawl": "crawler.stream",
    "CrawlStream": "crawler.stream",
    "Crawler": "crawler.engine",
    "CrawlConfig": "crawler.config",
    "Record": "crawler.record",
    "Page": "crawler.scrape.page",
    "Follow": "crawler.scrape.page",
    "Stats": "crawler.stats",
    "CrawlerError": "crawler.errors",
    "ConfigError": "crawler.errors",
    "ModeUnavailable": "crawler.errors",
    "OutputError": "crawler.errors",
    "SourceError": "crawler.errors",
    "InvalidURL": "crawler.errors",
}

__all__ = [
    "crawl",
    "CrawlStream",
    "Crawler",
    "CrawlConfig",
    "Record",
    "Page",
    "Follow",
    "Stats",
    "CrawlerError",
    "ConfigError",
    "ModeUnavailable",
    "OutputError",
    "SourceError",
    "InvalidURL",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # PEP 562: load the public names on first access, and only the module that holds them.
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'crawler' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
