"""The host schedule kept in Redis: a host with a delay has one page out at a time and starts its
next a delay after that page ended (its requests were all sent before), told by ``done`` or by
its record, whichever comes first; a hand-out tells how many other hosts may start too, so that
as many idle loops ask at once."""

from __future__ import annotations

import time
import uuid

import pytest

from crawler.backends.redis.backend import RedisBackend
from crawler.backends.redis.items import decode_item
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.record import Record
from crawler.strategies.inprocess import ThreadingSync

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def delayed(redis_url):
    """A fresh crawl in Redis with a 0.3 s delay: its config, backend and a frontier (robots.txt
    ignored: a host's pages go out without its first one alone)."""
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex, delay=0.3, robots=False)
    backend = RedisBackend(config)
    try:
        yield config, backend, backend.frontier(config, ThreadingSync())
    finally:
        backend.close()


def test_a_host_with_a_delay_waits_for_its_page_then_the_delay(delayed):
    config, backend, frontier = delayed
    frontier.push_many([Request("http://a.test/0"), Request("http://a.test/1")])
    first = frontier.pop()
    assert first.url == "http://a.test/0"
    # Its delay passes, but its page is still out: a request may leave late, so the next
    # one waits for this one's end.
    assert frontier.pop(timeout=0.6) is None
    ended = time.monotonic()
    frontier.done(first)  # its record may take its turn: the page's end is told now
    second = frontier.pop(timeout=10)
    assert second is not None and second.url == "http://a.test/1"
    assert time.monotonic() - ended >= 0.29  # the server clock counts whole ms
    sink = backend.record_sink(config)
    sink.write(Record(url=first.url, status=200))  # late: the host is not freed twice
    frontier.push_many([Request("http://a.test/2")])
    assert frontier.pop(timeout=0.4) is None  # a/1 is out
    ended = time.monotonic()
    sink.write(Record(url=second.url, status=200))  # a record before ``done`` ends it too
    third = frontier.pop(timeout=10)
    assert third is not None and time.monotonic() - ended >= 0.29
    frontier.done(second)


def test_one_pop_hands_out_a_page_of_each_ready_host_to_the_waiting_loops(delayed):
    # The loops waiting at once share one POP (it leases one page per loop), so hosts ready
    # at the same time are all handed out in one round trip.
    config, backend, frontier = delayed
    frontier.push_many([Request(f"http://{h}.test/{i}") for h in "abc" for i in range(2)])
    state = backend.state
    args = [state.prefix, frontier.lease_ms, frontier.cap, frontier.delay_ms, 5, 0, 0]
    _, _, _, *pairs = state.run("POP", (), args)
    items = pairs[::2]
    assert sorted(decode_item(item).url for item in items) == [
        "http://a.test/0",
        "http://b.test/0",
        "http://c.test/0",
    ]  # one page per host: each has a delay, so one page out at a time
    assert pairs[1::2] == [1, 1, 1]  # each page's end is to be told (ENDED)


def test_a_host_listed_while_its_page_is_out_still_waits_a_delay_from_its_end(delayed):
    # A link found for a host whose one page is out lists the host at its booked start; the
    # page's end moves that start on, and the listing follows (a start booked at hand-out
    # would come early when the request left late).
    config, backend, frontier = delayed
    frontier.push_many([Request("http://a.test/0")])
    first = frontier.pop()
    frontier.push_many([Request("http://a.test/1")])  # listed while a/0 is out
    time.sleep(0.4)  # what is tested is time passing: past the start booked at hand-out
    ended = time.monotonic()
    frontier.done(first)
    second = frontier.pop(timeout=10)
    assert second is not None and time.monotonic() - ended >= 0.29
    frontier.done(second)


def test_done_says_how_long_ago_the_page_ended_and_the_delay_runs_from_then(delayed):
    # A loop parses before ``done`` and a processes parent hears of pages with their batch:
    # ``ago`` (by the worker's clock) puts the page's end, hence its host's next start, back.
    config, backend, frontier = delayed
    frontier.push_many([Request("http://a.test/0"), Request("http://a.test/1")])
    first = frontier.pop()
    time.sleep(0.5)  # what is tested is time passing: a page out longer than the delay
    frontier.done(first, 0.4)  # its answer came 0.4 s ago, 0.1 s after it was handed out
    state = backend.state
    seconds, micros = state.call("time")
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    next_ms = int(state.call("hget", state.prefix + "next", "a.test"))
    assert next_ms - now_ms <= 0.3 * 1000 - 0.4 * 1000 + 50  # not a whole delay from now
    second = frontier.pop(timeout=10)
    assert second is not None and second.url == "http://a.test/1"
    frontier.done(second)


def test_with_robots_obeyed_a_hosts_first_page_goes_alone_until_robots_txt_answers(redis_url):
    # As HostSchedule.full: its robots.txt may set a Crawl-delay that pages handed out meanwhile
    # would each wait out. Opened by the answer (HostClock.set_delay) or the page's record.
    config = CrawlConfig(backend=redis_url, crawl_id=uuid.uuid4().hex)  # robots.txt obeyed
    backend = RedisBackend(config)
    try:
        frontier = backend.frontier(config, ThreadingSync())
        clock = backend.host_clock(config, ThreadingSync())
        frontier.push_many([Request(f"http://{h}.test/{i}") for h in "ab" for i in range(3)])
        popped = [frontier.pop(timeout=0) for _ in range(3)]
        assert [r.url if r else None for r in popped] == [
            "http://a.test/0",
            "http://b.test/0",
            None,
        ]
        clock.set_delay("a.test", 0.0)  # a's robots.txt answered, no Crawl-delay
        assert sorted(frontier.pop(timeout=0).url for _ in range(2)) == [
            "http://a.test/1",
            "http://a.test/2",
        ]
        assert frontier.pop(timeout=0) is None  # b's first page is still out
        sink = backend.record_sink(config)
        sink.write(Record(url=popped[1].url, status=200))
        sink.close()  # sends the record: it ends the page, and opens b
        assert frontier.pop(timeout=0).url == "http://b.test/1"
    finally:
        backend.close()
