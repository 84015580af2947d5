"""The origin robots.txt is looked up under (crawler/politeness/robots.py ``origin_of``): its
quick cut of the usual URL gives what ``urllib.parse.urlsplit`` gives, for any URL."""

from __future__ import annotations

import random
from urllib.parse import urlsplit

import pytest

from crawler.politeness.robots import origin_of

pytestmark = pytest.mark.timeout(30)


def split_origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


URLS = [
    "http://example.com/",
    "https://example.com:8443/a/b?q=1#f",
    "http://127.0.0.1:8080",
    "http://[::1]:8080/x",
    "http://host?q=1",
    "http://host#frag",
    "http://user:pw@host/x",
    "HTTP://Host/x",
    "http://ho\tst/x",
    "http://host\\evil/x",
    "ftp://host/x",
    "http:///nohost",
    "http://h\u00e9st/x",
]


@pytest.mark.parametrize("url", URLS)
def test_the_origin_is_urlsplit_s(url):
    assert origin_of(url) == split_origin(url)


def test_random_urls_give_urlsplit_s_origin():
    rng = random.Random(14)
    pieces = ["http", "https", "://", "/", "h", ".", ":", "8", "?", "#", "@", "\\", " ", "\t", "["]
    for _ in range(5000):
        url = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        try:
            expected = split_origin(url)
        except ValueError:
            continue  # urlsplit refuses it (a bad IPv6 bracket): never a crawl's URL
        assert origin_of(url) == expected, url
