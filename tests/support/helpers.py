"""Small helpers shared by the tests (run a crawl in-process and collect its records)."""

from __future__ import annotations

from crawler.config import CrawlConfig
from crawler.engine import Crawler
from crawler.record import Record
from crawler.sinks import CallbackSink
from crawler.stats import Stats


def run_crawl(seeds, **options) -> tuple[list[Record], Stats]:
    """Crawl ``seeds`` with ``options``; return the records and the totals.

    robots.txt is off unless asked for: pytest-httpserver answers an unexpected /robots.txt
    with HTTP 500, which a polite crawler reads as "keep out" (tests/test_robots.py covers it).
    """
    options.setdefault("robots", False)
    records: list[Record] = []
    stats = Crawler(CrawlConfig(**options), [CallbackSink(records.append)]).run(seeds)
    return records, stats


def by_url(records: list[Record]) -> dict[str, Record]:
    """Records keyed by URL, asserting there is exactly one per URL."""
    table = {r.url: r for r in records}
    assert len(table) == len(records), "a URL produced more than one record"
    return table
