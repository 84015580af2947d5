"""The in-memory frontier past ``--memory-limit``: ``python -m bench.spill_scale``.

Each case runs in a fresh interpreter (this file as a script, so RSS starts clean). It pushes
``--urls`` link requests over ``--hosts`` hosts straight into a ``MemoryFrontier`` (in batches
of 50, one page's links; depths rising as a breadth-first crawl's do; the visited set is left
out: it stays in memory by design, ~16 bytes a URL, and its cost is ``bench.scale``'s), then
pops and finishes ``--window`` of them. It prints, per case, one JSON line:

- ``push_first_us`` / ``push_last_us``: CPU µs (user + system: the writes count) per pushed URL
  over the first ``--window`` pushes (a queue of 0 to 100 k) and the last (the queue near its
  full size), spilling included; CPU rather than wall time, as a busy machine blurs the latter;
- ``pop_us``: CPU µs per pop + done over ``--window`` pops with the whole queue in place
  (refills from disk included);
- ``queued_mb``: the queued requests' bytes in memory at the end (the frontier's own
  estimate, what the bound applies to), ``rss_mb`` the RSS growth over the baseline (after
  the pushes), ``peak_mb`` the process's peak RSS (``VmHWM``), ``spilled`` requests written to
  disk, ``disk_mb`` bytes written.

Cases: each of ``--sizes`` (default 100 k, 1 M, 5 M) with the same ``--memory-limit`` (32 MiB:
16 MiB for the queue, so the millions spill and 100 k does not), and the largest without a
limit for contrast. The table at the end gives each figure and its ratio to the first case's.
Run on a quiet machine; the ratios compare cases of one invocation. (RSS keeps what the queue
in memory once took: freed small objects leave the allocator's arenas partly used, so RSS
follows the bound, not the queue's length.)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

from bench.procfs import status_bytes

BATCH = 50


def _requests(first: int, last: int, n: int, hosts: int) -> list:
    from crawler.base import Request

    out = []
    for i in range(first, last):
        host = f"h{i % hosts}.example"
        depth = 1 + i * 5 // n  # rising, as a breadth-first crawl finds them
        parent = f"http://{host}/d{depth - 1}/{i // hosts // 7}.html"
        out.append(Request(f"http://{host}/d{depth}/page-{i // hosts}.html", depth, parent, host))
    return out


def case(n: int, hosts: int, limit: int | None, window: int) -> dict[str, float]:
    """One case's figures (run in a fresh interpreter)."""
    from crawler.backends.memory.backend import queue_bound
    from crawler.backends.memory.frontier import MemoryFrontier
    from crawler.unshared import UNSHARED

    gc.collect()
    base = status_bytes("VmRSS")
    frontier = MemoryFrontier(UNSHARED, spill_above=queue_bound(limit))
    first_s = last_s = 0.0
    for start in range(0, n, BATCH):
        batch = _requests(start, min(n, start + BATCH), n, hosts)
        began = time.process_time()
        frontier.push_many(batch)
        spent = time.process_time() - began
        if start < window:
            first_s += spent
        if start >= n - window:
            last_s += spent
    gc.collect()
    rss = status_bytes("VmRSS") - base
    queued = frontier.queued_bytes
    began = time.process_time()
    for _ in range(window):
        request = frontier.pop(timeout=0)
        assert request is not None
        frontier.done(request)
    pop_s = time.process_time() - began
    figures = {
        "urls": n,
        "limit_mb": (limit or 0) / 2**20,
        "push_first_us": first_s / min(window, n) * 1e6,
        "push_last_us": last_s / min(window, n) * 1e6,
        "pop_us": pop_s / window * 1e6,
        "queued_mb": queued / 2**20,
        "rss_mb": rss / 2**20,
        "peak_mb": status_bytes("VmHWM") / 2**20,
        "spilled": frontier.snapshot()["spilled"],
        "disk_mb": frontier.spilled_bytes / 2**20,
    }
    frontier.release()
    return figures


def _run(n: int, hosts: int, limit: int | None, window: int) -> dict[str, float]:
    code = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([code, os.environ.get("PYTHONPATH", "")])}
    argv = [sys.executable, __file__, "--case", str(n), str(hosts), str(limit or 0), str(window)]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    """Run the cases and print their figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000,1000000,5000000", help="queue sizes")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--memory-limit", type=int, default=32 * 2**20, help="bytes")
    parser.add_argument("--window", type=int, default=100_000)
    parser.add_argument("--no-unbounded", action="store_true", help="skip the no-limit case")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    cases = []
    for n in sizes:
        cases.append(_run(n, args.hosts, args.memory_limit, args.window))
        print(json.dumps(cases[-1]), flush=True)
    if not args.no_unbounded:
        cases.append(_run(sizes[-1], args.hosts, None, args.window))
        print(json.dumps(cases[-1]), flush=True)
    keys = ("push_last_us", "pop_us", "queued_mb", "rss_mb", "peak_mb", "spilled")
    print("| case | " + " | ".join(keys) + " |")
    print("| --- |" + " ---: |" * len(keys))
    first = cases[0]
    for figures in cases:
        limit = f"{figures['limit_mb']:.0f} MiB" if figures["limit_mb"] else "none"
        cells = []
        for key in keys:
            value = figures[key]
            ratio = f" ({value / first[key]:.2f}x)" if first[key] and key != "spilled" else ""
            cells.append(f"{value:.1f}{ratio}" if key != "spilled" else f"{value:,}")
        print(f"| {figures['urls']:,}, limit {limit} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--case"]:
        n, hosts, limit, window = (int(a) for a in sys.argv[2:6])
        print(json.dumps(case(n, hosts, limit or None, min(window, n))))
    else:
        main()
