"""Shared pieces for the politeness tests: a threaded local server that keeps server-side
timestamps, and several worker loops on threads sharing one backend (what a threads strategy
does), so limits "across all workers" are measured where they matter: at the server."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from http.cookiejar import CookieJar

from werkzeug import Request, Response

from crawler.backends.memory.backend import MemoryBackend
from crawler.config import CrawlConfig
from crawler.record import Record
from crawler.worker import Worker


class ThreadSync:
    """``threading``'s primitives, as a threads strategy brings them."""

    def lock(self) -> threading.Lock:
        return threading.Lock()

    def condition(self) -> threading.Condition:
        return threading.Condition()


class HostMeter:
    """A werkzeug handler that answers HTML with links, and records per Host header the arrival
    times and the most requests in progress at once. ``latency`` keeps each request open a while
    so that overlapping requests can be seen."""

    def __init__(self, links: dict[str, list[str]], latency: float = 0.0) -> None:
        self.links = links
        self.latency = latency
        self.lock = threading.Lock()
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.active: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)

    def __call__(self, request: Request) -> Response:
        host = request.host.split(":")[0]
        with self.lock:
            self.arrivals[host].append(time.monotonic())
            self.active[host] += 1
            self.peak[host] = max(self.peak[host], self.active[host])
        try:
            if self.latency:
                time.sleep(self.latency)  # simulated server latency, not synchronisation
            hrefs = self.links.get(request.path, [])
            body = "".join(f'<a href="{h}">x</a>' for h in hrefs)
            return Response(f"<title>{request.path}</title>{body}", content_type="text/html")
        finally:
            with self.lock:
                self.active[host] -= 1


def gaps(times: list[float]) -> list[float]:
    """Seconds between consecutive timestamps."""
    ordered = sorted(times)
    return [b - a for a, b in zip(ordered, ordered[1:], strict=False)]


def crawl_on_threads(
    seeds: list[str], loops: int, cookies: CookieJar | None = None, **options: object
) -> list[Record]:
    """Run ``loops`` worker loops on threads over one shared in-memory backend."""
    from crawler.sources import to_requests

    config = CrawlConfig(mode="serial", **options)
    backend = MemoryBackend()
    sync = ThreadSync()
    frontier = backend.frontier(config, sync)
    visited = backend.visited(config, sync)
    clock = backend.host_clock(config, sync)
    robots = backend.robots_cache(config, sync)
    records: list[Record] = []
    lock = threading.Lock()

    def emit(record: Record) -> None:
        with lock:
            records.append(record)

    workers = [
        Worker(
            config,
            frontier,
            visited,
            emit,
            name=f"t{i}",
            host_clock=clock,
            robots=robots,
            cookies=cookies,
        )
        for i in range(loops)
    ]
    requests, _ = to_requests(seeds, config.mode)
    workers[0].schedule(requests)
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "a worker loop did not finish"
    return records
