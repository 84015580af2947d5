"""The urllib3 fetcher's way to its pools (crawler/http/direct.py): the usual URL is cut into
what ``parse_url`` would give, any other is left to ``PoolManager``; a pool the manager
closed is never used again."""

from __future__ import annotations

import random

import pytest
from urllib3.util.url import parse_url

from crawler.config import CrawlConfig
from crawler.http.direct import DirectPools, request_target
from crawler.http.urllib3_fetcher import Urllib3Fetcher
from tests.support.raw_server import RawServer

pytestmark = pytest.mark.timeout(30)

URLS = [
    "http://example.com/",
    "https://example.com:8443/a/b?q=1&r=%2F",
    "http://127.0.0.1:8080/d3/p12.html",
    "http://h/a//b/?",
    "http://h/a?b?c=d/e:f@g",
    "http://h/~user/(x);y,z=1!$'*+",
    "http://h:65535/",
    "http://h:0080/",
    "http://example.com./x",
    # Left to parse_url: each changes something, or is not this simple form.
    "http://h/a/./b",
    "http://h/a/../b",
    "http://h/.well-known/x",
    "http://h/%2f",
    "http://h/a b",
    "http://h/caf\u00e9",
    "http://h/#frag",
    "http://H/",
    "HTTP://h/",
    "http://h:99999/",
    "http://h",
    "http://h?q",
    "http://user@h/",
    "http://[::1]:8080/",
    "http://h/a\\b",
    "http://./",
    "http://../x",
    "ftp://h/",
]


def expected(url: str) -> tuple[str, str, int | None, str]:
    u = parse_url(url)
    return u.scheme, u.host, u.port, u.request_uri


@pytest.mark.parametrize("url", URLS)
def test_the_cut_is_parse_url_s_or_none(url):
    cut = request_target(url)
    assert cut is None or cut == expected(url)


def test_the_usual_urls_are_cut():
    for url in URLS[:9]:
        assert request_target(url) is not None, url


def test_random_urls_are_cut_as_parse_url_cuts_them():
    rng = random.Random(14)
    hosts = ["h", "H", ".", "-", "1", "\u00e9", "%41", "@", "["]
    ports = ["", ":", ":8", ":080", ":99999"]
    pieces = ["/", ".", "..", "a", "A", "~", "-", ":", "@", "?", "#", "%2f", "%2F", "%", " ",
              "!", "'", "\\", "\u00e9", "[", "\t"]  # fmt: skip

    def some(choices: list[str], most: int) -> str:
        return "".join(rng.choice(choices) for _ in range(rng.randint(0, most)))

    cut = 0
    for _ in range(20000):
        url = rng.choice(["http://", "https://"]) + "h" + some(hosts, 2) + rng.choice(ports)
        url += "/" + some(pieces, 8)
        found = request_target(url)
        if found is not None:
            cut += 1
            assert found == expected(url), url
    assert cut > 1000  # the quick path was taken often


def ok(server, conn, number):
    while server.read_head(conn, number) is not None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_a_pool_the_manager_closed_is_replaced():
    fetcher = Urllib3Fetcher(CrawlConfig())
    try:
        with RawServer(ok) as server:
            assert fetcher.fetch(server.url("/a")).body == b"ok"
            fetcher.pool.clear()  # what evicting every pool does: each is closed
            second = fetcher.fetch(server.url("/b"))
            assert (second.error, second.body) == (None, b"ok")
    finally:
        fetcher.close()


def test_origins_past_the_cap_still_reach_their_pools():
    servers = [RawServer(ok, host=f"127.1.14.{n}") for n in (1, 2, 3)]
    fetcher = Urllib3Fetcher(CrawlConfig())
    fetcher._direct = DirectPools(fetcher.pool, size=2)
    try:
        for server in servers:
            server.__enter__()
        for _ in range(2):
            for server in servers:
                assert fetcher.fetch(server.url("/x")).body == b"ok"
        # Each host kept its one connection: the same pool served it each time.
        for server in servers:
            assert {number for number, _, _ in server.requests} == {1}
    finally:
        fetcher.close()
        for server in servers:
            server.__exit__(None, None, None)
