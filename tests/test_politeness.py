"""Per-host politeness across worker loops, measured at the server: delay and concurrency."""

import re
import time

from pytest_httpserver import HTTPServer

from crawler.backends.memory.host_clock import MemoryHostClock
from tests.support.politeness_helpers import HostMeter, ThreadSync, crawl_on_threads, gaps
from tests.support.spacing import LATE_S, behind_schedule


def two_host_seeds(server: HTTPServer) -> list[str]:
    return [f"http://127.0.0.1:{server.port}/", f"http://localhost:{server.port}/"]


def test_per_host_cap_holds_across_workers_and_hosts_run_in_parallel(threaded_server):
    meter = HostMeter({"/": [f"/p{i}" for i in range(8)]}, latency=0.15)
    threaded_server.expect_request(re.compile(".*")).respond_with_handler(meter)
    records = crawl_on_threads(
        two_host_seeds(threaded_server), loops=8, depth=1, per_host=2, robots=False
    )
    assert len(records) == 18 and all(r.ok for r in records)
    # Eight loops, but never more than two requests in progress per host, and the cap is
    # reached (so the measurement can see a violation).
    assert dict(meter.peak) == {"127.0.0.1": 2, "localhost": 2}


def test_without_a_cap_workers_do_overlap_on_one_host(threaded_server):
    # The control for the test above: the same crawl with no cap goes wider than two.
    meter = HostMeter({"/": [f"/p{i}" for i in range(8)]}, latency=0.15)
    threaded_server.expect_request(re.compile(".*")).respond_with_handler(meter)
    crawl_on_threads(two_host_seeds(threaded_server)[:1], loops=8, depth=1, robots=False)
    assert meter.peak["127.0.0.1"] > 2


def test_delay_spaces_requests_per_host_across_workers(threaded_server):
    meter = HostMeter({"/": ["/a", "/b", "/c"]})
    threaded_server.expect_request(re.compile(".*")).respond_with_handler(meter)
    records = crawl_on_threads(
        two_host_seeds(threaded_server), loops=4, depth=1, delay=0.2, robots=False
    )
    assert len(records) == 8
    for host in ("127.0.0.1", "localhost"):
        spacing = gaps(meter.arrivals[host])
        assert len(meter.arrivals[host]) == 4
        # Sends are spaced by the clock; a send run late on a loaded machine shortens the gap
        # after it, so the spacing is held over the span (without a delay: a few ms in all).
        assert behind_schedule(meter.arrivals[host], 0.2) <= LATE_S, spacing
    # The delay is per host: the two hosts' requests interleave rather than queue one behind
    # the other.
    a, b = meter.arrivals["127.0.0.1"], meter.arrivals["localhost"]
    assert max(a[0], b[0]) < min(a[-1], b[-1])


class _Exploding:
    """A condition variable that fails the test if anyone takes it."""

    def __enter__(self):
        raise AssertionError("the default host clock took its lock")

    def __exit__(self, *exc):
        return None


def test_default_clock_is_free_and_takes_no_lock():
    clock = MemoryHostClock(_Exploding())
    started = time.process_time()
    for _ in range(100_000):
        clock.acquire("example.org")
        clock.release("example.org")
    # Well under a microsecond a page on any machine; the benchmark budget is ~1 ms a page.
    assert time.process_time() - started < 0.2


def test_set_delay_only_raises_and_wakes_the_clock():
    slept: list[float] = []
    now = [100.0]
    clock = MemoryHostClock(
        ThreadSync().condition(), delay=0.0, sleep=slept.append, clock=lambda: now[0]
    )
    clock.acquire("h")
    clock.set_delay("h", 2.0)
    clock.set_delay("h", 1.0)  # lower: ignored
    clock.acquire("h")
    clock.acquire("h")
    clock.acquire("other")
    # The delay was learned at 100 (robots.txt answered then): the second acquire on "h"
    # starts at 102, the third at 104; "other" is not slowed.
    assert slept == [2.0, 4.0]
