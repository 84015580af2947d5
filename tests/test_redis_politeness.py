"""Politeness held crawl-wide through Redis: the host clock and the robots.txt cache."""

from __future__ import annotations

import threading
import time
import urllib.request
import uuid
from itertools import pairwise

import pytest

from crawler.backends.redis.politeness import RedisHostClock, RedisRobotsCache
from crawler.backends.redis.state import RedisState
from tests.support.graph_site import GraphSite, start_worker

pytestmark = pytest.mark.timeout(60)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def clocks(redis_url: str, n: int, **options) -> list[RedisHostClock]:
    """``n`` workers' clocks on one crawl, each with its own connection."""
    crawl_id = uuid.uuid4().hex
    return [
        RedisHostClock(RedisState(redis_url, crawl_id), threading.Lock(), **options)
        for _ in range(n)
    ]


def hammer(site: GraphSite, clock: RedisHostClock, pages: range) -> None:
    for i in pages:
        clock.acquire("127.0.0.1")
        try:
            _OPENER.open(site.url(f"/p{i}"), timeout=10).read()
        finally:
            clock.release("127.0.0.1")


def run_workers(site: GraphSite, workers: list[RedisHostClock], per_worker: int) -> None:
    threads = [
        threading.Thread(target=hammer, args=(site, clock, range(k * 10, k * 10 + per_worker)))
        for k, clock in enumerate(workers)
        for _ in range(2)  # two loops per worker, as in a threads-mode worker
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads)


def test_per_host_one_never_overlaps_across_workers(redis_url):
    with GraphSite(pages=40, latency=0.03) as site:
        run_workers(site, clocks(redis_url, 2, per_host=1), per_worker=5)
        spans = sorted(site.spans)
    assert len(spans) == 20
    # Server-side: each request ends before the next one starts.
    assert all(end <= nxt_start for (_, end), (nxt_start, _) in pairwise(spans))


def test_two_cli_workers_with_per_host_one_never_overlap(redis_url, tmp_path):
    crawl_id = uuid.uuid4().hex
    with GraphSite(pages=30, latency=0.05) as site:
        args = ["--backend", redis_url, "--crawl-id", crawl_id, "--depth", "50"]
        args += ["--mode", "threads", "--workers", "4", "--per-host", "1", site.seed]
        workers = [start_worker(args, str(tmp_path / f"w{i}.jsonl")) for i in range(2)]
        for proc in workers:
            assert proc.wait(60) == 0, proc.stderr.read()
        spans = sorted(site.spans)
        counts = site.counts()
    assert len(counts) == site.pages and set(counts.values()) == {1}
    assert all(end <= nxt_start for (_, end), (nxt_start, _) in pairwise(spans))
    assert site.robots_requests == 1  # robots.txt fetched once for the whole crawl
    assert all((tmp_path / f"w{i}.jsonl").read_text() for i in range(2)), "not shared"


def test_without_a_cap_the_same_workers_do_overlap(redis_url):
    with GraphSite(pages=40, latency=0.05) as site:
        run_workers(site, clocks(redis_url, 2), per_worker=5)
        spans = sorted(site.spans)
    assert any(end > nxt_start for (_, end), (nxt_start, _) in pairwise(spans))


def test_delay_spaces_starts_across_workers(redis_url):
    with GraphSite(pages=40) as site:
        workers = clocks(redis_url, 2, delay=0.1)
        begun = time.monotonic()  # no slot can be earlier: the first is taken after this
        run_workers(site, workers, per_worker=3)
        starts = sorted(start for start, _ in site.spans)
    # The k-th start is at least k delays after the first slot, itself no earlier than
    # ``begun``: a start may come late (a loaded machine), never early. (Measured from the
    # first start instead, a first request late by more than some slack failed the check.)
    # 5 ms for Redis's clock, which books the slots in whole milliseconds.
    assert len(starts) == 12
    assert all(start - begun >= k * 0.1 - 0.005 for k, start in enumerate(starts))


def test_slot_of_a_dead_worker_expires(redis_url):
    dead, alive = clocks(redis_url, 2, per_host=1, hold=0.5)
    dead.acquire("h")  # never released: this worker "died"
    started = time.monotonic()
    alive.acquire("h")
    assert 0.3 <= time.monotonic() - started < 5


def test_robots_txt_claimed_once_and_shared(redis_url):
    crawl_id = uuid.uuid4().hex
    first, second = (RedisRobotsCache(RedisState(redis_url, crawl_id)) for _ in range(2))
    assert first.claim("http://a.test") and not second.claim("http://a.test")
    assert second.get("http://a.test") is None
    threading.Timer(0.1, first.put, ("http://a.test", ("rules", "User-agent: *"))).start()
    assert second.wait("http://a.test", 5) == ("rules", "User-agent: *")
    assert second.wait("http://b.test", 0.05) is None


def test_a_released_robots_claim_can_be_won_again(redis_url):
    # A worker whose robots.txt fetch raised gives its claim back: another wins it at once
    # instead of waiting for the claim to lapse.
    crawl_id = uuid.uuid4().hex
    first, second = (RedisRobotsCache(RedisState(redis_url, crawl_id)) for _ in range(2))
    assert first.claim("http://a.test") and not second.claim("http://a.test")
    first.release("http://a.test")
    assert second.claim("http://a.test") and not first.claim("http://a.test")
