"""Streaming seeds (``crawler/seedfeed.py``, ``sources.SeedLines``): a crawl starts fetching
while its URL list is still being read, from a FIFO or stdin, and every line still gets its
one record (bad lines ``invalid_url``, a listed duplicate once)."""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

import crawler.seedfeed as seedfeed
from crawler.sources import SeedLines, read_source
from tests.support.cli import jsonl, start_cli
from tests.support.helpers import by_url, run_crawl

pytestmark = pytest.mark.timeout(120)


def page(title: str = "t") -> str:
    return f"<html><head><title>{title}</title></head><body></body></html>"


def serve_first_with_event(httpserver) -> threading.Event:
    """``/p/0`` sets the event when it is requested; every ``/p/N`` answers a page."""
    import re

    from werkzeug import Response

    arrived = threading.Event()

    def first(request):
        arrived.set()
        return Response(page("first"), content_type="text/html")

    httpserver.expect_request("/p/0").respond_with_handler(first)
    httpserver.expect_request(re.compile("/p/.*")).respond_with_data(
        page(), content_type="text/html"
    )
    return arrived


def rest_of_list(httpserver) -> list[str]:
    urls = [httpserver.url_for(f"/p/{i}") for i in range(1, 6)]
    return [*urls, "not a url", urls[0], "http://[broken/", httpserver.url_for("/p/0")]


def check_records(records: list[dict], httpserver) -> None:
    urls = {httpserver.url_for(f"/p/{i}") for i in range(6)}
    fetched = [r for r in records if r["error"] is None]
    assert sorted(r["url"] for r in fetched) == sorted(urls)  # each once: duplicates dropped
    invalid = sorted(r["url"] for r in records if r["error"] == "invalid_url")
    assert invalid == ["http://[broken/", "not a url"]
    assert len(records) == len(urls) + 2


@pytest.mark.parametrize(
    ("mode", "via"), [("threads", "fifo"), ("gevent", "stdin"), ("serial", "stdin")]
)
def test_first_request_goes_out_before_the_list_is_read(httpserver, tmp_path, mode, via):
    arrived = serve_first_with_event(httpserver)
    out = tmp_path / "out.jsonl"
    args = ["--mode", mode, "--workers", "4", "--ignore-robots", "-q", "-o", str(out)]
    if via == "fifo":
        fifo = tmp_path / "urls.fifo"
        os.mkfifo(fifo)
        proc = start_cli(*args, str(fifo), stderr=subprocess.PIPE)
        # Returns once the crawl opened the FIFO to read it; closed below (the list's end).
        writer = open(fifo, "w")  # noqa: SIM115
    else:
        proc = start_cli(*args, "-", stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        writer = proc.stdin
    try:
        writer.write(httpserver.url_for("/p/0") + "\n")
        writer.flush()
        # The list is still open: only a crawl that reads as it goes has fetched anything.
        assert arrived.wait(60), "no request before the end of the list"
        writer.write("".join(line + "\n" for line in rest_of_list(httpserver)))
        writer.close()
        proc.wait(timeout=90)
        stderr = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, stderr  # the invalid lines are failures
    check_records(jsonl(out.read_text()), httpserver)


@pytest.mark.parametrize("mode", ["serial", "threads"])
def test_small_chunks_keep_one_record_per_line(httpserver, tmp_path, monkeypatch, mode):
    """Chunks of 3 seeds with 5 ahead: bad lines and duplicates span chunk boundaries."""
    monkeypatch.setattr(seedfeed, "FIRST_SEEDS", 2)
    monkeypatch.setattr(seedfeed, "CHUNK", 3)
    monkeypatch.setattr(seedfeed, "READ_AHEAD", 5)
    serve_first_with_event(httpserver)
    lines = []
    for i in range(40):
        lines.append(httpserver.url_for(f"/p/{i}"))
        if i % 7 == 3:
            lines.append(f"bad line {i}")
        if i % 5 == 4:
            lines.append(httpserver.url_for(f"/p/{i // 2}"))  # listed before: a duplicate
    path = tmp_path / "urls.txt"
    path.write_text("\n".join(lines) + "\n")
    records, stats = run_crawl(read_source(str(path)), mode=mode, workers=3)
    table = by_url(records)
    assert {u for u, r in table.items() if r.error is None} == {
        httpserver.url_for(f"/p/{i}") for i in range(40)
    }
    bad = [f"bad line {i}" for i in range(40) if i % 7 == 3]
    assert sorted(u for u, r in table.items() if r.error == "invalid_url") == sorted(bad)
    assert stats.pages == 40 + len(bad)


def test_a_list_given_to_the_api_is_read_in_chunks(httpserver, monkeypatch):
    monkeypatch.setattr(seedfeed, "FIRST_SEEDS", 1)
    monkeypatch.setattr(seedfeed, "CHUNK", 2)
    serve_first_with_event(httpserver)
    urls = [httpserver.url_for(f"/p/{i}") for i in range(7)]
    records, _ = run_crawl([*urls, "nope", *urls[:3]], mode="threads", workers=2)
    table = by_url(records)
    assert set(table) == {*urls, "nope"}
    assert table["nope"].error == "invalid_url"


def test_seed_lines_read_what_is_ready_without_waiting():
    read_end, write_end = os.pipe()
    seeds = SeedLines(read_end, "pipe", owned=True)
    os.write(write_end, "\ufeffhttp://a/1\n# note\n\nhttp://a/2\nhttp://a/3\nhttp://a/".encode())
    first = seeds.read(2, wait=True)
    assert [(s.text, s.origin) for s in first] == [
        ("http://a/1", "pipe:1"),
        ("http://a/2", "pipe:4"),
    ]
    assert [s.text for s in seeds.read(10, wait=False)] == ["http://a/3"]
    assert seeds.read(10, wait=False) == []  # a line without its newline yet: not ready
    os.write(write_end, b"4\n\xff\n")
    assert [s.text for s in seeds.read(10, wait=False)] == ["http://a/4", "\udcff"]
    os.write(write_end, b"http://a/5")
    os.close(write_end)
    assert [s.text for s in seeds.read(10, wait=True)] == ["http://a/5"]  # no final newline
    assert seeds.read(10, wait=True) is None
    assert seeds.finished


def test_credentials_anywhere_in_a_file_are_found_before_reading(tmp_path):
    path = tmp_path / "urls.txt"
    lines = [f"http://h/{i}" for i in range(5000)] + ["http://u:p@h/x", "http://h/?mail=a@b"]
    path.write_text("\n".join(lines))
    seeds = read_source(str(path))
    assert seeds.credential_lines() == ["http://u:p@h/x", "http://h/?mail=a@b"]
    assert len(list(seeds)) == 5002


def test_a_crawl_that_follows_links_reads_its_list_first(httpserver, monkeypatch):
    """With --depth above 0, a listed URL is crawled as a seed even when an earlier seed's
    page links to it: the list is read before the first fetch (no read-ahead would let the
    link claim it first here)."""
    monkeypatch.setattr(seedfeed, "FIRST_SEEDS", 1)
    monkeypatch.setattr(seedfeed, "CHUNK", 1)
    monkeypatch.setattr(seedfeed, "READ_AHEAD", 0)
    linked = httpserver.url_for("/p/1")
    httpserver.expect_request("/p/0").respond_with_data(
        f'<html><body><a href="{linked}">1</a></body></html>', content_type="text/html"
    )
    httpserver.expect_request("/p/1").respond_with_data(page(), content_type="text/html")
    records, _ = run_crawl([httpserver.url_for("/p/0"), linked], mode="serial", depth=1)
    assert (by_url(records)[linked].depth, by_url(records)[linked].parent) == (0, None)


def test_read_ahead_is_bounded_and_spans_hosts_of_a_sorted_list(monkeypatch):
    """The frontier holds at most about READ_AHEAD listed URLs, and on a list sorted by host
    (100 URLs a host) that window still offers several hosts at once."""
    from crawler.backends.memory.backend import MemoryBackend
    from crawler.children import claim_new
    from crawler.config import CrawlConfig
    from crawler.seedfeed import FeedingBackend, SeedFeed
    from crawler.unshared import UnsharedSync

    monkeypatch.setattr(seedfeed, "CHUNK", 20)
    monkeypatch.setattr(seedfeed, "READ_AHEAD", 600)
    urls = [f"http://h{h:02d}.example/p/{i}" for h in range(20) for i in range(100)]
    config, sync = CrawlConfig(), UnsharedSync()
    feed = SeedFeed([*urls, "bad", urls[5]], config)
    backend = FeedingBackend(MemoryBackend(), feed)
    frontier, visited = backend.frontier(config, sync), backend.visited(config, sync)
    first, invalid = feed.read(10)
    feed.outstanding = frontier.push_many(claim_new(visited, first))
    popped, most_queued, most_hosts = [], 0, 0
    while (request := frontier.pop()) is not None:
        counts = frontier.snapshot()
        most_queued = max(most_queued, counts["queued"])
        most_hosts = max(most_hosts, len(frontier._inner._queues))
        popped.append(request.url)
        frontier.done(request)
    assert sorted(popped) == sorted(urls)  # each once
    assert [r.url for r in feed.records] == ["bad"] and not invalid
    assert most_queued <= 600 // 2 + 20
    assert most_hosts >= 3


def test_a_loop_that_pops_seldom_still_reads_on_after_a_while(monkeypatch):
    """A polite crawl pops seldom (its loops wait for their hosts): past ``REFILL_AFTER_S``
    since the last refill, the next pop reads a chunk even before ``REFILL_EVERY`` pops."""
    from crawler.backends.memory.backend import MemoryBackend
    from crawler.children import claim_new
    from crawler.config import CrawlConfig
    from crawler.seedfeed import FeedingBackend, SeedFeed
    from crawler.unshared import UnsharedSync

    monkeypatch.setattr(seedfeed, "CHUNK", 20)
    urls = [f"http://h{h:02d}.example/p/{i}" for h in range(50) for i in range(10)]
    config, sync = CrawlConfig(), UnsharedSync()
    feed = SeedFeed(urls, config)
    backend = FeedingBackend(MemoryBackend(), feed)
    frontier, visited = backend.frontier(config, sync), backend.visited(config, sync)
    first, _ = feed.read(100)  # more than a chunk queued: no refill for being low
    feed.outstanding = frontier.push_many(claim_new(visited, first))
    feed.refilled = float("inf")  # as if a chunk had just been read
    frontier.done(frontier.pop())
    assert feed.generation == 0  # one pop, just after a refill: nothing read
    feed.refilled = float("-inf")  # long ago: the time has come
    frontier.done(frontier.pop())
    assert feed.generation == 1 and feed.outstanding == 100 - 2 + 20


def test_stop_ends_a_crawl_waiting_on_a_stalled_pipe(httpserver):
    """The list's writer stalls (the pipe stays open): the loop waiting to read more notices
    ``stop`` and the crawl returns, with the page it fetched recorded."""
    from crawler.config import CrawlConfig
    from crawler.engine import Crawler
    from crawler.sinks import CallbackSink

    arrived = serve_first_with_event(httpserver)
    read_end, write_end = os.pipe()
    recorded = threading.Event()
    records = []

    def keep(record):
        records.append(record)
        recorded.set()

    crawler = Crawler(CrawlConfig(mode="threads", workers=2, robots=False), [CallbackSink(keep)])
    done = threading.Event()
    runner = threading.Thread(
        target=lambda: (crawler.run(SeedLines(read_end, "pipe", owned=True)), done.set()),
        daemon=True,
    )
    runner.start()
    try:
        os.write(write_end, (httpserver.url_for("/p/0") + "\n").encode())
        assert arrived.wait(30) and recorded.wait(30)
        crawler.stop()
        assert done.wait(30), "the crawl still waits on its list"
    finally:
        os.close(write_end)
        runner.join(30)
    assert [r.url for r in records] == [httpserver.url_for("/p/0")]


def test_a_pop_asked_again_after_a_chunk_came_waits_only_what_is_left(monkeypatch):
    """A pop with a timeout (a loop holding a page for its host's turn) that finds a chunk of
    seeds queued meanwhile asks the wrapped frontier again: for what is left of the timeout, not
    for all of it again (two Redis workers held pages twice their time, and the pages' hosts
    fell a delay behind)."""
    import types

    from crawler.config import CrawlConfig
    from crawler.seedfeed import FeedingFrontier, SeedFeed
    from crawler.unshared import UnsharedSync

    now = [100.0]
    monkeypatch.setattr(seedfeed, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    feed = SeedFeed(["http://a.example/"], CrawlConfig())
    feed.read(10)  # every seed read: a pop that finds nothing may end
    assert not feed.pending

    class Waiting:
        """The wrapped frontier: each pop waits out its timeout and finds nothing; during the
        first, another loop queues the last chunk."""

        closed = False

        def __init__(self) -> None:
            self.asked: list[float | None] = []

        def pop(self, timeout: float | None = None) -> None:
            self.asked.append(timeout)
            now[0] += timeout or 0.0
            if len(self.asked) == 1:
                feed.generation += 1

    inner = Waiting()
    frontier = FeedingFrontier(inner, feed, owner=None, sync=UnsharedSync())
    assert frontier.pop(timeout=0.5) is None
    assert inner.asked == [0.5, 0.0]
