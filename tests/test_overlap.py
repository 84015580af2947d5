"""``crawler/strategies/overlap.py``: a failure on a parse greenlet (outside any page) is not
lost in the greenlet: the frontier is closed, every loop returns, and the loops re-raise it."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT

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
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, httpserver.url_for("/")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == str(["RuntimeError"] * 3)
    assert lines[1] == f"the sink broke on {httpserver.url_for('/')}"
    assert lines[2] == "True"
