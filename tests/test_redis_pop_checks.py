"""What a worker pops from Redis is checked again before it is fetched: an item written by
anyone with access to the crawl's keys is fetched only if the crawl could have scheduled it."""

from __future__ import annotations

import json
import uuid

import pytest
import redis
from pytest_httpserver import HTTPServer

from crawler.backends.checked import Rejected, RequestChecker
from crawler.backends.redis.items import decode_fields
from crawler.config import CrawlConfig
from crawler.links.urls import fingerprint
from tests.support.helpers import run_crawl

pytestmark = pytest.mark.timeout(60)


def item(url: str, depth: int = 1, seed_host: str = "localhost", chain=(), fp_of=None) -> bytes:
    """A queued item as a worker's PUSH writes it (``crawler/backends/redis/items.py``):
    depth, URL, parent, seed host, via, parse_as, redirect hops, NUL-separated."""
    body = "\0".join([str(depth), url, "", seed_host or "\x01", "", "", *chain])
    return fingerprint(fp_of or url) + body.encode()


@pytest.fixture
def offsite():
    """A server on another loopback address: out of scope for a crawl of 127.0.0.1."""
    server = HTTPServer(host="127.0.0.2", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


def test_hostile_queued_items_are_rejected_never_fetched(redis_url, httpserver, offsite):
    httpserver.expect_request("/").respond_with_data(
        "<title>seed</title>", content_type="text/html"
    )
    httpserver.expect_request("/ok").respond_with_data(
        "<title>ok</title>", content_type="text/html"
    )
    evil = offsite.url_for("/evil")
    # Each with a fingerprint of its own: POP skips an item whose fingerprint has a record.
    hostile = [
        item("file:///etc/passwd", fp_of="http://localhost/1"),
        item(evil + "?2"),  # a link out of scope
        item(evil + "?3", depth=0, seed_host="localhost"),  # a "seed" claiming another host
        item(evil + "?4", seed_host="127.0.0.2/.."),  # a seed host that is no host
        item(httpserver.url_for("/ok?5"), depth=99),  # past --depth
        item(evil + "?6", fp_of=httpserver.url_for("/ok?6")),  # another URL's fingerprint
        fingerprint("http://localhost/7") + b"{not an item",
    ]
    legit = item(httpserver.url_for("/ok"))
    crawl_id = uuid.uuid4().hex
    client = redis.Redis.from_url(redis_url)
    # Written as a worker's PUSH would: into a host's list, the host listed as ready.
    keys = f"crawl:{{{crawl_id}}}:"
    client.rpush(keys + "q:localhost", *hostile, legit)
    client.zadd(keys + "ready", {"localhost": 0})
    client.hincrby(keys + "stats", "queued", len(hostile) + 1)
    records, _ = run_crawl([httpserver.url_for("/")], backend=redis_url, crawl_id=crawl_id, depth=1)
    assert offsite.log == [], "an out-of-scope URL was fetched"
    assert sorted(r.url for r in records) == sorted([httpserver.url_for(p) for p in ("/", "/ok")])
    assert int(client.hget(f"crawl:{{{crawl_id}}}:stats", "rejected")) == len(hostile)
    stored = [json.loads(v) for v in client.hvals(f"crawl:{{{crawl_id}}}:records")]
    rejected = [r for r in stored if r["error"] == "rejected"]
    assert len(rejected) == len(hostile)
    assert {r["url"] for r in rejected} >= {"file:///etc/passwd", evil + "?2"}
    assert client.zcard(f"crawl:{{{crawl_id}}}:leases") == 0  # every lease ended


def check(checker: RequestChecker, data: bytes):
    """What a worker does with a popped item: split it, then check its fields."""
    return checker.check_fields(data[:16], *decode_fields(data))


def test_a_legitimate_redirect_hop_and_link_pass():
    checker = RequestChecker(CrawlConfig(depth=2))
    hop = item(
        "http://example.com/b", depth=0, seed_host="example.com", chain=["http://www.example.com/"]
    )
    assert check(checker, hop).url == "http://example.com/b"
    assert check(checker, item("http://a.example.com/x", seed_host="example.com")).depth == 1
    with pytest.raises(Rejected, match="scope"):
        check(checker, item("http://other.org/", seed_host="example.com"))
