"""``crawler/strategies/overlap.py``: a failure on a parse greenlet (outside any page) is not
lost in the greenlet: the frontier is closed, every loop returns, and the loops re-raise it.
Ctrl-C landing in a fetching or a parsing greenlet records that greenlet's page."""

from __future__ import annotations

import json

from tests.support.cli import run_cli, run_python

SCRIPT = """
from gevent import monkey
monkey.patch_all()
import sys
import gevent
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.backends.memory.frontier import MemoryFrontier
from crawler.strategies.inprocess import ThreadingSync
from crawler.strategies.overlap import Overlap
from crawler.backends.memory.visited import MemoryVisited
from crawler.worker import Worker

def broken_sink(record):
    raise RuntimeError("the sink broke on " + record.url)

config = CrawlConfig(mode="gevent", workers=3, depth=5, robots=False)
sync = ThreadingSync()
frontier = MemoryFrontier(sync.condition())
visited = MemoryVisited(sync.lock())
loops = [Worker(config, frontier, visited, broken_sink, name=f"g{i}") for i in range(3)]
loops[0].schedule([Request(sys.argv[1], seed_host="127.0.0.1")])
overlap = Overlap(3, frontier.close)
greenlets = [gevent.spawn(overlap.run, worker) for worker in loops]
gevent.joinall(greenlets, timeout=20)
print(sorted(type(g.exception).__name__ for g in greenlets if g.dead))
print(str(greenlets[0].exception))
print(frontier.pop() is None)
"""


def test_a_parse_greenlet_failure_closes_the_frontier_and_is_raised_by_every_loop(httpserver):
    page = "<html><body>" + "".join(f'<a href="/p{i}">p</a>' for i in range(5)) + "</body></html>"
    httpserver.expect_request("/").respond_with_data(page, content_type="text/html")
    out = run_python(SCRIPT, args=[httpserver.url_for("/")], timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == str(["RuntimeError"] * 3)
    assert lines[1] == f"the sink broke on {httpserver.url_for('/')}"
    assert lines[2] == "True"


# Ctrl-C (a real SIGINT to the process) arriving while a fetching greenlet holds a page: the
# fetcher presses it right after the exchange, so it lands in that greenlet.
FETCH_INTERRUPTED = """
from gevent import monkey
monkey.patch_all()
import json, os, signal, sys
import gevent
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.backends.memory.frontier import MemoryFrontier
from crawler.backends.memory.visited import MemoryVisited
from crawler.http.urllib3_fetcher import Urllib3Fetcher
from crawler.strategies.inprocess import ThreadingSync
from crawler.strategies.overlap import Overlap
from crawler.worker import Worker

class CtrlCAfterStop(Urllib3Fetcher):
    def fetch(self, url):
        response = super().fetch(url)
        if "stop" in url:
            os.kill(os.getpid(), signal.SIGINT)
        return response

config = CrawlConfig(mode="gevent", workers=2, depth=1, robots=False)
sync = ThreadingSync()
frontier = MemoryFrontier(sync.condition())
visited = MemoryVisited(sync.lock())
records = []
loops = [
    Worker(config, frontier, visited, records.append, name=f"g{i}", fetcher=CtrlCAfterStop(config))
    for i in range(2)
]
loops[0].schedule([Request(url, seed_host="127.0.0.1") for url in sys.argv[1:]])
overlap = Overlap(2, frontier.close)
greenlets = [gevent.spawn(overlap.run, worker) for worker in loops]
try:
    gevent.joinall(greenlets, timeout=20)
except KeyboardInterrupt:  # gevent raises it in the main greenlet too; the loops still end
    gevent.joinall(greenlets, timeout=20)
print(json.dumps([type(g.exception).__name__ for g in greenlets]))
print(json.dumps({r.url: r.error for r in records}))
"""


def test_ctrl_c_in_a_fetching_greenlet_records_its_page(httpserver):
    for path in ("/a", "/stop", "/b", "/c"):
        httpserver.expect_request(path).respond_with_data("<html></html>", content_type="text/html")
    urls = [httpserver.url_for(p) for p in ("/a", "/stop", "/b", "/c")]
    out = run_python(FETCH_INTERRUPTED, args=urls, timeout=60)
    assert out.returncode == 0, out.stderr
    failures, records = map(json.loads, out.stdout.splitlines())
    assert "KeyboardInterrupt" in failures
    assert records[httpserver.url_for("/stop")] == "interrupted"
    fetched = {httpserver.url_for(request.path) for request, _ in httpserver.log}
    assert fetched <= set(records)


def test_ctrl_c_in_a_parsing_greenlet_records_its_page(httpserver, tmp_path):
    links = "".join(f'<a href="/p{i}">p</a>' for i in range(6)) + '<a href="/stop">s</a>'
    httpserver.expect_request("/").respond_with_data(links, content_type="text/html")
    for path in [f"/p{i}" for i in range(6)] + ["/stop"]:
        httpserver.expect_request(path).respond_with_data("<p>x</p>", content_type="text/html")
    output = tmp_path / "records.jsonl"
    out = run_cli(
        "--mode", "gevent", "--workers", "4", "--depth", "1", "--ignore-robots",
        "--parse", "tests.support.scrapers:ctrl_c_on_stop", "-o", str(output),
        httpserver.url_for("/"), timeout=60,
    )  # fmt: skip
    assert out.returncode == 130, out.stderr
    records = {r["url"]: r for r in map(json.loads, output.read_text().splitlines())}
    # The first Ctrl-C lets the pages in flight finish: the page whose parse sent it is
    # recorded whole (or as interrupted, if the crawl could not finish it), never dropped.
    assert records[httpserver.url_for("/stop")]["error"] in (None, "interrupted")
    fetched = {httpserver.url_for(request.path) for request, _ in httpserver.log}
    assert fetched <= set(records)
