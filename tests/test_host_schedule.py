"""The host-aware frontier's rules without a network: ready order, caps, budgets, timing.

A fake clock drives the in-memory frontier; ``pop(timeout=0)`` says "nothing may start now"
instead of waiting, so each step is checked at a known time.
"""

import threading
import time

import pytest

from crawler.backends.memory.backend import MemoryBackend
from crawler.backends.memory.frontier import MemoryFrontier
from crawler.backends.memory.host_clock import MemoryHostClock
from crawler.base import Request
from crawler.config import CrawlConfig
from crawler.politeness.schedule import HostSchedule, Pace
from crawler.strategies.processes.strategy import DispatchSync
from crawler.unshared import UNSHARED


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def frontier(clock: FakeClock, **pace: object) -> MemoryFrontier:
    budget = pace.pop("max_pages_per_host", None)
    return MemoryFrontier(
        UNSHARED, schedule=HostSchedule(Pace(**pace)), max_pages_per_host=budget, clock=clock
    )


def sorted_by_host(hosts: str, pages: int) -> list[Request]:
    return [Request(f"http://{h}.test/{i}") for h in hosts for i in range(pages)]


def drain_now(f: MemoryFrontier) -> list[str]:
    """Every URL that may start at this instant."""
    out = []
    while (request := f.pop(timeout=0)) is not None:
        out.append(request.url)
    return out


def test_a_list_sorted_by_host_is_handed_out_host_by_host_in_turn():
    clock = FakeClock()
    f = frontier(clock, delay=1.0)
    f.push_many(sorted_by_host("abc", 3))
    # All three hosts start at once; nothing more until their delay has passed since each
    # page ended.
    first = drain_now(f)
    assert first == ["http://a.test/0", "http://b.test/0", "http://c.test/0"]
    finish(f, first)
    clock.now += 0.99
    assert drain_now(f) == []
    clock.now += 0.01
    assert drain_now(f) == ["http://a.test/1", "http://b.test/1", "http://c.test/1"]


def finish(f: MemoryFrontier, urls: list[str]) -> None:
    """Mark pages done (at the clock's time)."""
    for url in urls:
        f.done(Request(url))


def test_a_host_with_a_delay_waits_for_the_end_of_its_page_then_the_delay():
    # A request leaves some time after its hand-out (a connection to open, a busy loop): the
    # delay runs from the page's end, which is after its request left, never from the hand-out.
    clock = FakeClock()
    f = frontier(clock, delay=1.0)
    f.push_many(sorted_by_host("a", 3))
    assert drain_now(f) == ["http://a.test/0"]
    clock.now += 1.5
    assert drain_now(f) == []  # one page at a time: a/0 is still in flight
    f.done(Request("http://a.test/0"))
    clock.now += 0.99
    assert drain_now(f) == []
    clock.now += 0.01
    assert drain_now(f) == ["http://a.test/1"]


def test_the_delay_runs_from_the_pages_network_end_when_done_says_how_long_ago():
    # A loop parses before ``done`` (and a processes parent hears of pages with their batch):
    # ``ago`` says when the page's last request ended, and the delay runs from then.
    clock = FakeClock()
    f = frontier(clock, delay=1.0)
    f.push_many(sorted_by_host("ab", 2))
    assert drain_now(f) == ["http://a.test/0", "http://b.test/0"]
    clock.now += 0.5
    f.done(Request("http://a.test/0"), 0.3)  # its answer was read at 100.2
    f.done(Request("http://b.test/0"))  # at 100.5
    clock.now = 101.19
    assert drain_now(f) == []
    clock.now = 101.2
    assert drain_now(f) == ["http://a.test/1"]
    clock.now = 101.5
    assert drain_now(f) == ["http://b.test/1"]


def test_pop_waits_only_until_the_earliest_host_is_ready():
    clock = FakeClock()
    f = frontier(clock, delay=1.0)
    f.push_many(sorted_by_host("ab", 2))
    drain_now(f)
    host, wait = f._order.take(clock.now)
    assert host is None and wait == 1.0


def test_per_host_cap_counts_pages_until_done():
    clock = FakeClock()
    f = frontier(clock, per_host=2)
    f.push_many(sorted_by_host("a", 4) + sorted_by_host("b", 1))
    first = drain_now(f)
    assert sorted(first) == ["http://a.test/0", "http://a.test/1", "http://b.test/0"]
    f.done(Request("http://a.test/0"))
    assert drain_now(f) == ["http://a.test/2"]
    assert f.snapshot()["in_flight"] == 3


_LOOPS_END = threading.Event()


def pop_on_another_loop(f: MemoryFrontier) -> Request | None:
    """Pop as a new loop (a thread) would: no host of its own to keep. The thread lives on
    until the test module ends, so that no later loop gets its identity."""
    popped: list[Request | None] = []
    ready = threading.Event()

    def loop() -> None:
        popped.append(f.pop(timeout=0))
        ready.set()
        _LOOPS_END.wait(30)

    threading.Thread(target=loop, daemon=True).start()
    ready.wait(10)
    return popped[0]


def teardown_module() -> None:
    _LOOPS_END.set()


def test_ready_hosts_go_to_the_one_with_fewest_in_flight():
    clock = FakeClock()
    f = frontier(clock)
    f.push_many(sorted_by_host("a", 3))
    assert pop_on_another_loop(f).url == "http://a.test/0"
    f.push_many(sorted_by_host("b", 2))
    # a has one page in flight, b none: b goes first, then they alternate.
    assert [pop_on_another_loop(f).url for _ in range(3)] == [
        "http://b.test/0",
        "http://a.test/1",
        "http://b.test/1",
    ]


def test_with_robots_obeyed_a_hosts_first_page_goes_alone_until_it_is_done():
    # Its robots.txt (fetched before it) may set a Crawl-delay: pages of the host handed out
    # meanwhile would each wait out that delay in a loop of their own.
    clock = FakeClock()
    f = frontier(clock, robots=True)
    f.push_many(sorted_by_host("ab", 3))
    firsts = [pop_on_another_loop(f) for _ in range(3)]
    assert [r.url if r else None for r in firsts] == ["http://a.test/0", "http://b.test/0", None]
    f.done(firsts[0])
    assert [pop_on_another_loop(f).url for _ in range(2)] == ["http://a.test/1", "http://a.test/2"]
    assert pop_on_another_loop(f) is None  # b's first page is still out
    unruled = frontier(FakeClock())  # --ignore-robots: nothing to learn first
    unruled.push_many(sorted_by_host("a", 2))
    assert [pop_on_another_loop(unruled).url for _ in range(2)] == [
        "http://a.test/0",
        "http://a.test/1",
    ]


def test_a_loop_keeps_its_idle_host_without_delay():
    # Its connection to the host is open: a many-host crawl pays for every new one.
    clock = FakeClock()
    f = frontier(clock)
    f.push_many(sorted_by_host("ab", 3))
    first = f.pop(timeout=0)
    f.done(first)
    assert [first.url, f.pop(timeout=0).url] == ["http://a.test/0", "http://a.test/1"]
    # Not a host another loop has a page of in flight, nor one with a delay.
    assert pop_on_another_loop(f).url == "http://b.test/0"
    timed = frontier(FakeClock(), delay=0.5)
    timed.push_many(sorted_by_host("ab", 2))
    assert drain_now(timed) == ["http://a.test/0", "http://b.test/0"]


def test_a_dispatcher_is_not_kept_on_the_host_it_popped_last():
    # A processes parent pops pages for its children: its next pop does not follow a fetch of
    # the page before, so keeping it on that host put two of its pages out at once.
    f = MemoryFrontier(UNSHARED, keep_hosts=False, clock=FakeClock())
    f.push_many(sorted_by_host("ab", 2))
    assert drain_now(f) == ["http://a.test/0", "http://b.test/0", "http://a.test/1",
                            "http://b.test/1"]  # fmt: skip
    backend = MemoryBackend()
    dispatched = backend.frontier(CrawlConfig(), DispatchSync())
    dispatched.push_many(sorted_by_host("ab", 2))
    assert [dispatched.pop(timeout=0).url for _ in range(2)] == [
        "http://a.test/0",
        "http://b.test/0",
    ]
    backend.close()


def test_within_a_host_pages_go_breadth_first():
    clock = FakeClock()
    f = frontier(clock)
    f.push_many([Request("http://a.test/deep", depth=3), Request("http://a.test/top", depth=1)])
    f.push_many([Request("http://a.test/mid", depth=2)])
    assert drain_now(f) == ["http://a.test/top", "http://a.test/mid", "http://a.test/deep"]


def test_max_pages_per_host_skips_and_counts_the_rest():
    clock = FakeClock()
    f = frontier(clock, max_pages_per_host=2)
    assert f.push_many(sorted_by_host("ab", 5)) == 4
    assert f.snapshot()["skipped"] == 6
    assert len(drain_now(f)) == 4


def test_finished_only_when_nothing_queued_and_nothing_in_flight():
    clock = FakeClock()
    f = frontier(clock, delay=5.0)
    f.push_many(sorted_by_host("a", 1))
    request = f.pop()
    assert f.pop(timeout=0) is None and f.snapshot()["in_flight"] == 1
    f.done(request)
    assert f.pop() is None  # finished: returns without waiting


def test_an_extra_request_pushes_the_next_hand_out_back():
    # robots.txt (or a retry) is a request the frontier did not plan: it takes the host's next
    # start, and the page after it waits one more delay.
    clock = FakeClock()
    schedule = HostSchedule(Pace(delay=1.0))
    f = MemoryFrontier(UNSHARED, schedule=schedule, clock=clock)
    slept: list[float] = []
    host_clock = MemoryHostClock(UNSHARED, schedule=schedule, sleep=slept.append, clock=clock)
    f.push_many(sorted_by_host("a", 2))
    f.pop(timeout=0)
    host_clock.acquire("a.test", granted=True)  # robots.txt, on the page's own booking
    host_clock.release("a.test")
    host_clock.acquire("a.test")  # the page itself: one delay later
    assert slept == [1.0]
    clock.now += 1.0
    host_clock.release("a.test")
    f.done(Request("http://a.test/0"))
    assert drain_now(f) == []  # the next page's start went to the extra request
    clock.now += 1.0
    assert drain_now(f) == ["http://a.test/1"]


def test_a_granted_request_sent_late_keeps_its_distance():
    schedule = HostSchedule(Pace(delay=1.0))
    schedule.hand_out("h", 100.0)
    assert schedule.book("h", 100.4, granted=True) == 100.4  # sent 0.4 s after hand-out
    schedule.hand_out("h", 101.0)
    assert schedule.book("h", 101.0, granted=True) == 101.4


def test_crawl_delay_is_capped_at_max_crawl_delay():
    schedule = HostSchedule(Pace(max_crawl_delay=30.0))
    assert schedule.set_delay("h", 1_000_000_000.0) == 30.0
    assert schedule.set_delay("h", 5.0) == 30.0  # never lowered


def test_auto_throttle_follows_latency_and_backs_off_on_429():
    schedule = HostSchedule(Pace(delay=0.1, auto_throttle=True, throttle_target=2.0))
    schedule.observe("h", 100.0, latency=2.0, status=200, retry_after=None)
    assert schedule.delay("h") == 1.0  # latency / target, at once when slower
    schedule.observe("h", 100.0, latency=0.2, status=200, retry_after=None)
    assert schedule.delay("h") == 0.55  # halfway down towards 0.1
    for _ in range(20):
        schedule.observe("h", 100.0, latency=0.0, status=200, retry_after=None)
    assert schedule.delay("h") == 0.1  # never below --delay
    schedule.observe("h", 100.0, latency=0.0, status=404, retry_after=None)
    assert schedule.delay("h") == 0.1  # an error never lowers it...
    schedule.observe("h", 100.0, latency=0.0, status=429, retry_after=7.0)
    assert schedule.delay("h") == 1.0  # ...429 raises it
    assert schedule.ready_at("h") == 107.0  # and Retry-After holds the whole host


def test_auto_throttle_stays_above_crawl_delay_and_below_the_cap():
    schedule = HostSchedule(Pace(auto_throttle=True, max_crawl_delay=4.0))
    schedule.set_delay("h", 2.0)
    schedule.observe("h", 100.0, latency=0.0, status=200, retry_after=None)
    assert schedule.delay("h") == 2.0
    for _ in range(5):
        schedule.observe("h", 100.0, latency=0.0, status=503, retry_after=None)
    assert schedule.delay("h") == 4.0


def test_a_retry_keeps_the_delay_from_the_failed_attempts_end():
    clock = FakeClock()
    schedule = HostSchedule(Pace(delay=1.0))
    slept: list[float] = []
    host_clock = MemoryHostClock(UNSHARED, schedule=schedule, sleep=slept.append, clock=clock)
    host_clock.acquire("a.test", granted=True)  # sent at 100.0
    clock.now += 0.7  # its answer (a 503) took 0.7 s: the server saw it somewhere in between
    host_clock.release("a.test")
    clock.now += 0.1
    host_clock.acquire("a.test")  # the retry: a delay after the end, not after the start
    assert slept == [pytest.approx(0.9)]


def test_the_managers_clock_keeps_the_delay_from_a_childs_last_end():
    # A pool child's first request of a page costs no call; its retry tells when the request
    # before it ended (one machine: ``time.monotonic`` is one clock for every process).
    from crawler.backends.manager import HostedHostClock
    from crawler.config import CrawlConfig

    hosted = HostedHostClock(CrawlConfig(delay=1.0))
    ended = time.monotonic()
    assert 0.9 <= hosted.try_acquire("a.test", False, ended) <= 1.0


class CountingCondition:
    """A real condition that notes how many waiting loops each ``notify`` asks to wake."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.notified: list[int] = []

    def __enter__(self) -> bool:
        return self._cond.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._cond.__exit__(*exc)

    def wait(self, timeout: float | None = None) -> bool:
        return self._cond.wait(timeout)

    def notify(self, n: int = 1) -> None:
        self.notified.append(n)
        self._cond.notify(n)

    def notify_all(self) -> None:
        self._cond.notify_all()


def test_hosts_getting_ready_together_wake_a_loop_each_at_once():
    # Woken one by one, each loop would wait for the one before it to run before the next
    # ready host found a loop: the last of many hosts ready at one instant started late.
    clock, cond = FakeClock(), CountingCondition()
    f = MemoryFrontier(cond, schedule=HostSchedule(Pace(delay=1.0)), clock=clock)
    f.push_many(sorted_by_host("abc", 2))
    finish(f, drain_now(f))
    clock.now += 1.0
    cond.notified.clear()
    assert f.pop(timeout=0).url == "http://a.test/1"
    assert cond.notified == [2]  # for b and c
