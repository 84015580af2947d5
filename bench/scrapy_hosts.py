"""Scrapy on a URL list, for the many-host benchmark: ``python -m bench.scrapy_hosts URLS STATS``.

Optional: run only when ``scrapy`` is importable (it is no dependency of the crawler). One
spider fetches every URL of the file (depth 0, like the crawler on a list), parses nothing, and
writes ``{"pages", "wall_s"}`` to STATS: responses received, and the seconds from the engine's
start to its stop as Scrapy's own stats count them (``elapsed_time_seconds``: interpreter and
import time excluded, as the crawler's ``--stats-json`` excludes them).

Politeness is Scrapy's: one download slot per host name (``127.1.0.1`` and ``127.1.0.2`` are two
slots), ``DOWNLOAD_DELAY`` between two requests of a slot, one request in flight per slot.
"""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.argument("urls", type=click.Path(exists=True, dir_okay=False))
@click.argument("stats", type=click.Path(dir_okay=False))
@click.option("--delay", default=0.0, type=click.FloatRange(min=0), show_default=True)
@click.option("--concurrency", default=64, type=click.IntRange(min=1), show_default=True)
def main(urls: str, stats: str, delay: float, concurrency: int) -> None:
    """Fetch every URL in URLS with Scrapy; write pages and wall seconds as JSON to STATS."""
    from scrapy import Request, Spider
    from scrapy.crawler import CrawlerProcess

    with open(urls, encoding="utf-8") as f:
        url_list = [line.strip() for line in f if line.strip()]

    class ListSpider(Spider):
        name = "hosts_list"

        async def start(self):  # Scrapy 2.13 and later
            for url in url_list:
                yield Request(url, callback=self.parse)

        def start_requests(self):  # before 2.13
            for url in url_list:
                yield Request(url, callback=self.parse)

        def parse(self, response):
            return None

    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            "DOWNLOAD_DELAY": delay,
            "RANDOMIZE_DOWNLOAD_DELAY": False,
            "ROBOTSTXT_OBEY": False,
            "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False,
            "HTTPPROXY_ENABLED": False,  # the site is on loopback: no proxy from the env
            "COOKIES_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,  # no control server on a port of its own
        }
    )
    crawler = process.create_crawler(ListSpider)
    process.crawl(crawler)
    process.start()
    totals = crawler.stats.get_stats()
    with open(stats, "w", encoding="utf-8") as f:
        json.dump(
            {
                "pages": totals.get("response_received_count", 0),
                "wall_s": totals.get("elapsed_time_seconds", 0.0),
            },
            f,
        )
    sys.exit(0)


if __name__ == "__main__":
    main()
