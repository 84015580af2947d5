"""The ``state`` half of ``bench/scale.py``, run as a script in a fresh interpreter:
``python bench/scale_state.py N HOSTS TRACE`` prints one JSON line.

It imports only ``crawler`` (from ``PYTHONPATH``: the checkout under test), pushes N seed
requests through the memory backend's visited set and frontier in batches, as a crawl's seeds
are (claimed, then queued), measures the RSS growth (and, with TRACE=1, ``tracemalloc``'s
count, in a second pass: tracing inflates RSS), then pops and finishes half of them.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import tracemalloc

BATCH = 10_000


def rss_kb() -> int:
    """This process's resident set size now, in KiB (Linux ``/proc``)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def fill(n: int, hosts: int) -> tuple[object, float]:
    """A frontier holding ``n`` seeds (and a visited set that claimed them); push seconds."""
    from crawler.backends.memory.frontier import MemoryFrontier
    from crawler.backends.memory.visited import MemoryVisited
    from crawler.base import Request
    from crawler.children import claim_new
    from crawler.unshared import UNSHARED

    origins = [f"127.1.{i // 254}.{i % 254 + 1}" for i in range(hosts)]
    frontier = MemoryFrontier(UNSHARED)
    visited = MemoryVisited()
    started = time.perf_counter()
    pushed = 0
    for first in range(0, n, BATCH):
        requests = []
        for i in range(first, min(n, first + BATCH)):
            host = origins[i % hosts]
            requests.append(Request(f"http://{host}:8000/p/{i // hosts}.html", 0, None, host))
        pushed += frontier.push_many(claim_new(visited, requests))
    assert pushed == n, (pushed, n)
    return (frontier, visited), time.perf_counter() - started


def main(n: int, hosts: int, trace: bool) -> dict[str, float]:
    """The figures for ``n`` URLs over ``hosts`` hosts."""
    import crawler.worker  # noqa: F401  (imports and their caches before the baseline)

    gc.collect()
    before = rss_kb()
    (frontier, visited), push_s = fill(n, hosts)
    gc.collect()
    after = rss_kb()
    started = time.perf_counter()
    for _ in range(n // 2):
        request = frontier.pop(timeout=0)
        assert request is not None
        frontier.done(request)
    pop_s = time.perf_counter() - started
    figures = {
        "urls": n,
        "rss_bytes_per_url": (after - before) * 1024 / n,
        "push_us_per_url": push_s / n * 1e6,
        "pop_us_per_url": pop_s / (n // 2) * 1e6,
    }
    if trace:
        del frontier, visited
        gc.collect()
        tracemalloc.start()
        state, _ = fill(n, hosts)
        gc.collect()
        figures["traced_bytes_per_url"] = tracemalloc.get_traced_memory()[0] / n
    return figures


if __name__ == "__main__":
    count, host_count, traced = (int(arg) for arg in sys.argv[1:4])
    print(json.dumps(main(count, host_count, bool(traced))))
