"""Fewer round trips per page on Redis: loops waiting at the same moment share one POP, and the
records a process stored go to Redis with its next POP. (robots.txt ignored throughout: these
pop several pages of one host with no robots.txt answered, which it would hold back.)"""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from crawler.backends.redis import outbox
from crawler.backends.redis.backend import RedisBackend
from crawler.backends.redis.pages import RedisPages
from crawler.backends.redis.visited import Claimed
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.links.urls import fingerprint
from crawler.record import Record
from crawler.recrawl import PageState
from crawler.strategies.inprocess import ThreadingSync
from tests.support.graph_site import wait_until

pytestmark = pytest.mark.timeout(60)


def _pops(frontier) -> list[int]:
    """Spy on the frontier's POP calls (real Redis underneath): items leased by each."""
    leased: list[int] = []
    run = frontier.state.run

    def counting(script, keys, args):
        reply = run(script, keys, args)
        if script == "POP" and args[4] > 0:
            leased.append((len(reply) - 3) // 2)  # (item, busy) pairs
        return reply

    frontier.state.run = counting
    return leased


def test_loops_waiting_together_share_one_pop(redis_url):
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex, depth=1, robots=False)
    backend = RedisBackend(config)
    try:
        frontier = backend.frontier(config, ThreadingSync())
        frontier.push_many([Request("http://a.test/0", 0, None, "a.test")])
        first = frontier.pop()  # a lease out, nothing queued: the next pops wait
        got: list[Request | None] = []
        loops = [
            threading.Thread(target=lambda: got.append(frontier.pop(timeout=20))) for _ in range(4)
        ]
        for loop in loops:
            loop.start()
        wait_until(lambda: frontier._waiting == 3, what="three loops waiting for the fourth")
        leased = _pops(frontier)
        links = [Request(f"http://a.test/{i}", 1, first.url, "a.test") for i in range(1, 5)]
        frontier.push_many(links)  # wakes the loop asking Redis, which asks for all four
        for loop in loops:
            loop.join(20)
        assert sorted(r.url for r in got) == sorted(r.url for r in links)
        assert [n for n in leased if n] == [4]
    finally:
        backend.close()


def test_records_ride_on_the_next_pop(redis_url, monkeypatch):
    monkeypatch.setattr(outbox, "FLUSH_S", 60.0)  # no send by the heartbeat here
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex, robots=False)
    backend = RedisBackend(config)
    records = f"crawl:{{{config.crawl_id}}}:records"
    client = redis.Redis.from_url(redis_url)
    try:
        frontier = backend.frontier(config, ThreadingSync())
        sink = backend.record_sink(config)
        frontier.push_many([Request(f"http://a.test/{i}", 0, None, "a.test") for i in range(2)])
        page = frontier.pop()
        sink.write(Record(url=page.url, status=200))
        frontier.done(page)
        assert client.hlen(records) == 0  # queued in this process, not sent on its own
        leased = _pops(frontier)
        assert frontier.pop() is not None
        assert leased == [1]  # one call: it stored the record and leased the next page
        assert client.hlen(records) == 1
        assert client.zcard(f"crawl:{{{config.crawl_id}}}:leases") == 1  # the first's ended
        sink.close()
    finally:
        backend.close()


def test_a_closed_frontier_puts_back_what_no_loop_took(redis_url):
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex, robots=False)
    backend = RedisBackend(config)
    keys = f"crawl:{{{config.crawl_id}}}:"
    client = redis.Redis.from_url(redis_url)
    try:
        frontier = backend.frontier(config, ThreadingSync())
        frontier.push_many([Request(f"http://a.test/{i}", 0, None, "a.test") for i in range(3)])
        frontier._buffer.extend(frontier._ask(3)[0])  # leased for loops that never came
        frontier.close()
        backend.flush()
        assert client.zcard(keys + "leases") == 0
        assert client.llen(keys + "q:a.test") == 3
        assert int(client.hget(keys + "stats", "queued")) == 3
    finally:
        backend.close()


def test_page_states_ride_on_the_next_pop_too(redis_url, monkeypatch):
    monkeypatch.setattr(outbox, "FLUSH_S", 60.0)
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex, robots=False)
    backend = RedisBackend(config)
    pages = RedisPages(redis_url, config.crawl_id)
    key = f"crawl:{{{config.crawl_id}}}:pages"
    client = redis.Redis.from_url(redis_url)
    try:
        frontier = backend.frontier(config, ThreadingSync())
        frontier.push_many([Request("http://a.test/1", 0, None, "a.test")])
        state = PageState(Request("http://a.test/0"), 200, "sha1:X", etag='"v1"')
        pages.put("http://a.test/0", state)
        assert client.hlen(key) == 0  # queued in this process
        assert pages.get("http://a.test/0") == state  # but read back here already
        assert frontier.pop() is not None
        assert client.hlen(key) == 1
        pages.drop("http://a.test/0")
        pages.close()  # sends what is left
        assert client.hlen(key) == 0
    finally:
        pages.close()
        backend.close()


def test_links_this_process_pushed_or_leased_are_not_sent_again(redis_url):
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex, robots=False)
    one, other = RedisBackend(config), RedisBackend(config)  # two workers of one crawl
    try:
        visited = one.visited(config, ThreadingSync())
        frontier = one.frontier(config, ThreadingSync())
        seed, link = Request("http://a.test/"), Request("http://a.test/x", 1, "http://a.test/")
        keys = [fingerprint(seed.url), fingerprint(link.url)]
        assert visited.claim_many(keys[:1]) == keys[:1]
        assert frontier.push_many([seed]) == 1
        assert frontier.pop(timeout=5) == seed
        assert visited.claim_many(keys) == keys[1:]  # the seed: pushed here, and leased here
        assert frontier.push_many([link]) == 1
        assert visited.claim_many(keys) == []
        # Another worker knows neither: it sends them, and the script drops them.
        assert other.visited(config, ThreadingSync()).claim_many(keys) == keys
        assert other.frontier(config, ThreadingSync()).push_many([seed, link]) == 0
        frontier.close()
    finally:
        one.close()
        other.close()


def test_the_claimed_keys_a_process_remembers_are_bounded():
    claimed = Claimed(limit=3)
    claimed.update([b"a", b"b", b"c"])
    assert b"a" in claimed
    claimed.update([b"d"])  # full: it starts over
    assert b"a" not in claimed and b"d" in claimed
