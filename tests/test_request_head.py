"""The request head a fetcher sends (crawler/http/adapter.py ``KnownHeaderLinesMixin``; the curl
fetcher's own lines, ``CurlFetcher._header_lines``): the header lines kept from the first request
are the ones that would be built again, and a header http.client refuses is still refused."""

from __future__ import annotations

import pytest

from crawler.config import CrawlConfig
from crawler.http import adapter
from crawler.http.registry import FETCHERS, open_fetcher
from tests.support.raw_server import RawServer

pytestmark = pytest.mark.timeout(30)


def kept_names(crawl) -> set[str]:
    """The header names whose lines are kept for the next request: the curl fetcher's own, the
    adapter's (urllib3, requests) otherwise."""
    if (own := getattr(crawl, "_lines_kept", None)) is not None:
        return {name.lower() for key in own for name, _ in key}
    return {name.lower() for name, _ in adapter._HEADER_LINES}


def pages(server, conn, number):
    while server.read_head(conn, number) is not None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_every_request_sends_the_same_header_lines_as_the_first(fetcher):
    adapter._HEADER_LINES.clear()
    config = CrawlConfig(
        fetcher=fetcher, user_agent="probe/1 (caf\u00e9)", headers=(("X-Extra", "a  b"),)
    )
    crawl = open_fetcher(config)
    try:
        with RawServer(pages) as server:
            for path in ("/a", "/a", "/b"):
                assert crawl.fetch(server.url(path)).body == b"ok"
            own = crawl.fetch(server.url("/a"), headers={"If-None-Match": '"v1"'})
            assert own.body == b"ok"
    finally:
        crawl.close()
    kept = kept_names(crawl)
    heads = [head for _, _, head in server.requests]
    assert heads[0] == heads[1] == heads[2].replace("GET /b ", "GET /a ")
    assert "User-Agent: probe/1 (caf\u00e9)\r\n" in heads[0] and "X-Extra: a  b" in heads[0]
    assert heads[3] == heads[0] + '\r\nIf-None-Match: "v1"'
    assert kept  # the lines were kept


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_an_illegal_header_value_is_refused_every_time(fetcher):
    crawl = open_fetcher(CrawlConfig(fetcher=fetcher))
    try:
        with RawServer(pages) as server:
            for _ in range(2):
                response = crawl.fetch(server.url("/a"), headers={"X-Bad": "a\r\nInjected: 1"})
                assert response.error is not None and response.body == b""
    finally:
        crawl.close()
    assert not any("Injected" in head for _, _, head in server.requests)


@pytest.mark.parametrize("fetcher", sorted(FETCHERS))
def test_credentials_and_cookies_are_not_kept(fetcher):
    adapter._HEADER_LINES.clear()
    crawl = open_fetcher(CrawlConfig(fetcher=fetcher, headers=(("Authorization", "Bearer s3"),)))
    try:
        with RawServer(pages) as server:
            assert crawl.fetch(server.url("/a"), headers={"Cookie": "a=1"}).body == b"ok"
            assert crawl.fetch(server.url("/a")).body == b"ok"
        kept = kept_names(crawl)
    finally:
        crawl.close()
    assert kept and not kept & {"authorization", "cookie"}
