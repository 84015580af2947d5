"""The lookahead mode (``crawler/strategies/lookahead.py``): serial's loop, each next request sent
before the page in hand is read (``Worker.prime``, ``CurlFetcher.prime``). The same pages and
records as serial; a request sent ahead is the request ``fetch`` would send, and one that is not
taken up is dropped without a trace."""

from __future__ import annotations

import json
import os

import pytest

from crawler.backends.memory.backend import MemoryBackend
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.engine import Crawler
from crawler.http.curl_fetcher import CurlFetcher
from crawler.strategies.serial import SerialSync
from crawler.worker import Worker
from tests.support.crawl_process import wait_until

pytestmark = pytest.mark.timeout(60)


def _fetcher(**options) -> CurlFetcher:
    return CurlFetcher(CrawlConfig(fetcher="curl", **options))


def _url(httpserver, path: str) -> str:
    """On 127.0.0.1 itself: "localhost" may be tried on ::1 first, and a connection still
    being made sends nothing ahead (the request then leaves in ``fetch``)."""
    return f"http://127.0.0.1:{httpserver.port}{path}"


def _paths(httpserver) -> list[str]:
    return [request.path for request, _ in httpserver.log]


def test_a_request_sent_ahead_is_the_fetch_it_stands_for(httpserver):
    httpserver.expect_request("/a").respond_with_data("<p>a</p>", content_type="text/html")
    httpserver.expect_request("/b").respond_with_data("<p>b</p>" * 50, content_type="text/html")
    fetcher = _fetcher()
    try:
        plain = fetcher.fetch(_url(httpserver, "/b"))
        assert fetcher.prime(_url(httpserver, "/b"))
        # Sent before anyone asked for the answer: the server has it already.
        assert wait_until(lambda: _paths(httpserver).count("/b") == 2, timeout=10)
        ahead = fetcher.fetch(_url(httpserver, "/b"))
        assert (ahead.status, ahead.body, ahead.error) == (plain.status, plain.body, None)
        assert ahead.headers["content-type"] == plain.headers["content-type"]
        # Nothing left in flight: the next fetch is a plain one.
        assert fetcher.fetch(_url(httpserver, "/a")).body == b"<p>a</p>"
        assert _paths(httpserver) == ["/b", "/b", "/a"]
    finally:
        fetcher.close()


def test_another_fetch_first_drops_the_request_sent_ahead(httpserver):
    httpserver.expect_request("/a").respond_with_data("a")
    httpserver.expect_request("/b").respond_with_data("b")
    fetcher = _fetcher()
    try:
        assert fetcher.prime(_url(httpserver, "/a"))
        assert fetcher.fetch(_url(httpserver, "/b")).body == b"b"  # robots.txt, say
        assert fetcher.fetch(_url(httpserver, "/a")).body == b"a"  # sent again, whole
    finally:
        fetcher.close()


def test_a_request_sent_ahead_fails_as_the_plain_one_does():
    fetcher = _fetcher(timeout=2)
    try:
        refused = "http://127.0.0.1:1/x"
        plain = fetcher.fetch(refused)
        fetcher.prime(refused)
        ahead = fetcher.fetch(refused)
        assert (ahead.error, ahead.status, ahead.body) == (plain.error, None, b"")
        assert ahead.error == "connect"
    finally:
        fetcher.close()


def test_closing_with_a_request_sent_ahead_leaves_nothing_open(httpserver):
    httpserver.expect_request("/a").respond_with_data("a")
    fetcher = _fetcher()
    assert fetcher.prime(_url(httpserver, "/a"))
    fetcher.close()  # no error, no transfer left to libcurl


def _worker(config: CrawlConfig) -> Worker:
    backend = MemoryBackend()
    sync = SerialSync()
    return Worker(
        config,
        backend.frontier(config, sync),
        backend.visited(config, sync),
        lambda record: None,
        name="t",
        host_clock=backend.host_clock(config, sync),
        robots=backend.robots_cache(config, sync),
    )


def test_only_a_page_fetch_page_would_send_at_once_is_sent_ahead(httpserver):
    httpserver.expect_request("/a").respond_with_data("a")
    url = _url(httpserver, "/a")
    cases = [
        ({"robots": False}, True),
        ({"robots": True}, False),  # its robots.txt is not read yet: fetch_page reads it first
        ({"robots": False, "delay": 0.5}, False),  # the host clock may make it wait
        ({"robots": False, "fetcher": "urllib3"}, False),  # a fetcher that cannot
    ]
    for options, sent in cases:
        options = {"fetcher": "curl", **options}
        worker = _worker(CrawlConfig(mode="lookahead", **options))
        try:
            assert worker.prime(Request(url)) is sent, options
        finally:
            worker.close()


def _records(path: str) -> dict[str, tuple]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    keep = ("status", "error", "digest", "title", "links", "depth", "parent", "redirects")
    return {row["url"]: tuple(str(row.get(k)) for k in keep) for row in rows}


@pytest.mark.parametrize("fetcher", ["curl", "urllib3"])
def test_lookahead_crawls_the_site_as_serial_does(site, tmp_path, fetcher):
    found = {}
    for mode in ("serial", "lookahead"):
        out = os.fspath(tmp_path / f"{mode}.jsonl")
        config = CrawlConfig(mode=mode, fetcher=fetcher, depth=100, output=out)
        stats = Crawler(config).run([site.url])
        assert stats.pages > 40
        found[mode] = _records(out)
    assert found["lookahead"] == found["serial"]
