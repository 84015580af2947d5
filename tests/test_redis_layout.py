"""How a Redis crawl is stored: compact queued items, the seen set as intset shards, and the
layout's format (a crawl written in another one is refused, never misread)."""

from __future__ import annotations

import json
import uuid

import pytest
import redis

from crawler.backends.codec import scope_of
from crawler.backends.redis.backend import RedisBackend
from crawler.backends.redis.items import decode_item, encode_item
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.links.urls import fingerprint
from crawler.strategies.inprocess import ThreadingSync
from tests.support.cli import run_cli

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    "request_",
    [
        Request("http://a.test/x", 2, "http://a.test/dir/p?q=1", "a.test"),
        Request("https://a.test:8443/x", 1, "https://a.test:8443/", "a.test"),
        Request("http://a.test/x", 1, "http://b.test/p", "b.test"),  # parent on another origin
        Request("http://a.test/x", 1, "https://a.test/p", "a.test"),  # ... another scheme
        Request("http://a.test/x"),  # no parent, no seed host
        Request("http://a.test/x", 0, None, "a.test", ("http://a.test/", "http://a.test/y")),
        Request("http://a.test/s.xml", 0, None, "a.test", via="robots", parse_as="sitemap"),
        Request("http://sub.a.test/é", 1, "http://a.test/ü", "a.test", via="sitemap"),
    ],
)
def test_a_queued_item_decodes_to_the_request_it_encodes(request_):
    item = encode_item(request_)
    assert item[:16] == fingerprint(request_.url)
    assert decode_item(item) == request_


def test_an_item_keeps_a_same_origin_parent_as_its_path_only():
    request = Request("http://shop.test/item/1", 1, "http://shop.test/list/1", "shop.test")
    assert encode_item(request)[16:] == b"1\0http://shop.test/item/1\0/list/1\0\0\0"


def test_the_seen_set_is_intset_shards_and_still_claims_once(redis_url):
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex)
    backend = RedisBackend(config)
    try:
        frontier = backend.frontier(config, ThreadingSync())
        parent = "http://a.test/"
        requests = [Request(f"http://a.test/{i}", 1, parent, "a.test") for i in range(300)]
        assert frontier.push_many(requests) == 300
        assert frontier.push_many(requests[::7]) == 0  # each URL is claimed once
        client = redis.Redis.from_url(redis_url)
        prefix = f"crawl:{{{config.crawl_id}}}:".encode()
        shards = list(client.scan_iter(match=prefix + b"s:*", count=1000))
        assert shards and not client.exists(prefix + b"seen")
        assert {client.object("encoding", key) for key in shards} == {b"intset"}
        assert sum(client.scard(key) for key in shards) == 300
        assert len(backend.visited(config, ThreadingSync())) == 300
    finally:
        backend.close()


def test_a_crawl_in_the_previous_format_is_refused_in_one_line(redis_url):
    # The first release wrote the scope alone (no "format"), JSON items and one "seen" set.
    crawl_id = uuid.uuid4().hex
    seed = "http://127.0.0.1:9/"
    client = redis.Redis.from_url(redis_url)
    client.set(f"crawl:{{{crawl_id}}}:config", json.dumps(scope_of(CrawlConfig())))
    client.sadd(f"crawl:{{{crawl_id}}}:seen", fingerprint(seed))
    done = run_cli("--backend", redis_url, "--crawl-id", crawl_id, "-q", seed, module=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "state format 1" in lines[0] and "--crawl-id" in lines[0]
    assert client.scard(f"crawl:{{{crawl_id}}}:seen") == 1  # left as it was
