"""The ``--state`` backend at scale: ``python -m bench.state_scale`` (10 M URLs; ``--quick``: 1 M).

What it measures, on the SQLite backend itself (``crawler/backends/sqlite``, no HTTP): a state
file in a temporary directory is filled with ``--urls`` requests over ``--hosts`` hosts, in
batches of ``--batch`` (one page's new links), each batch claimed and pushed as the worker loop
does (``claim_new`` through the visited set, then ``Frontier.push_many``). Then:

- push cost per URL (wall and CPU) in windows of ``--window`` URLs: the first window (a queue
  of 0 to 100 k) against the last one (the queue near ``--urls``). Between the two the file is
  filled with ``--fill fast`` (the default): the same rows the pushes would write (visited
  fingerprints, queue rows with their host and depth, the ``scheduled`` count), inserted with
  plain SQL in large transactions, the fingerprints hashed without canonicalising the URL
  (random 16-byte keys either way), so 10 M rows take minutes, not hours, on a busy machine;
  the file is then reopened as a resumed crawl would (the reopen is timed). ``--fill push``
  pushes every URL through the frontier instead, printing each window's cost;
- pop/complete cost per URL: ``--pops`` requests popped through the host-aware ready order
  (a lease each), their records stored and the requests marked done, as a crawl does, with
  ``--urls`` queued; against the same on a second file holding ``--window`` queued;
- reopening the full file (what a resumed crawl pays before its first pop);
- peak RSS (``VmHWM``) of this process against its RSS before the first push, and the file's
  bytes per URL (main file + WAL);
- the query plan (``EXPLAIN QUERY PLAN``) of every statement the hot paths ran, captured with
  a trace callback, so a scan or a temporary B-tree shows.

Targets (issue 16): RSS ≤ 300 MB at 10 M queued; push and pop cost per URL at 10 M within
2 × their cost at 100 k. The exit code does not judge them. Run it on a quiet machine: the
ratios compare windows of one run, but a busy neighbour makes any window slower.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.procfs import status_bytes
from crawler.backends.sqlite.backend import SqliteBackend
from crawler.backends.sqlite.state import SqliteState
from crawler.base import Request
from crawler.children import claim_new
from crawler.config import CrawlConfig
from crawler.record import Record
from crawler.strategies.inprocess import ThreadingSync


def _mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB"


def _url(i: int, hosts: int) -> tuple[str, str, int]:
    host = f"h{i * 7919 % hosts}.example"
    return f"http://{host}/p/{i}?q={i * 31 % 1000}", host, 1 + i % 3


def requests(start: int, stop: int, hosts: int) -> Iterator[Request]:
    """Requests ``start`` to ``stop``: host ``i * 7919 % hosts``, so a batch spans many hosts
    and every host's queue grows evenly."""
    for i in range(start, stop):
        url, _, depth = _url(i, hosts)
        yield Request(url, depth=depth)


def fill(db: Any, start: int, stop: int, hosts: int, chunk: int = 50_000) -> None:
    """Insert the rows pushing requests ``start`` to ``stop`` would (``--fill fast``)."""
    for first in range(start, stop, chunk):
        seen, queue = [], []
        for i in range(first, min(first + chunk, stop)):
            url, host, depth = _url(i, hosts)
            fp = hashlib.blake2b(url.encode(), digest_size=16).digest()
            item = fp + json.dumps([url, depth, None, "", []], separators=(",", ":")).encode()
            seen.append((fp,))
            queue.append((fp, item, host, depth))
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO seen VALUES (?)", seen)
        db.executemany("INSERT INTO queue (fp, item, host, depth) VALUES (?, ?, ?, ?)", queue)
        db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'scheduled'",
            (len(queue),),
        )
        db.execute("COMMIT")


class Plans:
    """The statements run while ``capture`` is on, one per shape (literals made ``?``)."""

    _LITERAL = re.compile(r"[Xx]'[0-9A-Fa-f]*'|'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}  # shape -> the first expanded statement

    def trace(self, sql: str) -> None:
        """The connection's trace callback."""
        shape = self._LITERAL.sub("?", " ".join(sql.split()))
        if not shape.upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.seen.setdefault(shape, sql)

    def report(self, db: Any) -> list[str]:
        """Each statement's shape and its query plan."""
        lines = []
        for shape, sql in self.seen.items():
            lines.append(f"  {shape[:150]}")
            for row in db.execute("EXPLAIN QUERY PLAN " + sql):
                lines.append(f"      {row[-1]}")
        return lines


class Store:
    """One state file opened as a crawl opens it: backend, frontier, visited set, sink."""

    def __init__(self, path: str) -> None:
        self.config = CrawlConfig(state=path)
        sync = ThreadingSync()
        self.backend = SqliteBackend(self.config)
        self.frontier = self.backend.frontier(self.config, sync)
        self.visited = self.backend.visited(self.config, sync)
        self.sink = self.backend.record_sink(self.config)

    def push(self, start: int, stop: int, hosts: int, batch: int) -> int:
        """Claim and queue requests ``start`` to ``stop`` in batches of ``batch``."""
        queued = 0
        for first in range(start, stop, batch):
            fresh = claim_new(self.visited, requests(first, min(first + batch, stop), hosts))
            queued += self.frontier.push_many(fresh)
        return queued

    def pop_complete(self, n: int) -> int:
        """Pop ``n`` requests, store a record for each and mark it done, as a crawl does."""
        done = 0
        for _ in range(n):
            request = self.frontier.pop(timeout=0)
            if request is None:
                break
            self.sink.write(Record(url=request.url, status=200, depth=request.depth, bytes=1))
            self.frontier.done(request)
            done += 1
        return done

    def close(self) -> None:
        """Close the file."""
        self.frontier.close()
        self.backend.close()


def timed(step: Callable[[], int]) -> tuple[float, float, int]:
    """Wall and CPU seconds per unit of ``step()``'s count, and the count."""
    wall, cpu = time.perf_counter(), time.process_time()
    n = step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall / max(n, 1), cpu / max(n, 1), n


def file_bytes(path: str) -> int:
    """The state file and its WAL."""
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def _us(cost: tuple[float, float, int]) -> str:
    return f"{cost[0] * 1e6:7.1f} us wall {cost[1] * 1e6:7.1f} us CPU"


def _ratio(late: tuple[float, float, int], early: tuple[float, float, int]) -> str:
    return f"{late[0] / early[0]:.2f}x wall, {late[1] / early[1]:.2f}x CPU"


def run(args: argparse.Namespace, out: Any) -> None:
    """The whole benchmark, its report written to ``out``."""
    work = tempfile.mkdtemp(prefix="state-scale-", dir=args.dir)
    try:
        _run(args, work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: str, out: Any) -> None:
    say = lambda line: print(line, file=out, flush=True)  # noqa: E731
    n, window, hosts, batch = args.urls, args.window, args.hosts, args.batch
    say(f"state_scale: {n:,} URLs over {hosts:,} hosts, batches of {batch}, windows of {window:,}")

    # The small file: pop/complete with ``window`` queued.
    small = Store(os.path.join(work, "small.db"))
    small.push(0, window, hosts, batch)
    small_pop = timed(lambda: small.pop_complete(args.pops))
    small.close()

    path = os.path.join(work, "big.db")
    big = Store(path)
    plans = Plans()
    big.backend.state.db.set_trace_callback(plans.trace)
    rss_before = status_bytes("VmRSS")
    windows: list[tuple[int, tuple[float, float, int]]] = []
    started = time.perf_counter()
    reopen_wall = None

    def progress(queued: int, what: str) -> None:
        say(
            f"  queued {queued:>11,}: {what}  RSS {_mb(status_bytes('VmRSS'))}"
            f"  file {file_bytes(path) / queued:.0f} B/URL  ({time.perf_counter() - started:.0f} s)"
        )

    start = 0
    while start < n:
        if args.fill == "fast" and 0 < start < n - window:
            big.close()
            filler = SqliteState(path)
            for first in range(start, n - window, n // 10 or window):
                last = min(first + (n // 10 or window), n - window)
                fill(filler.db, first, last, hosts)
                progress(last, "filled")
            filler.close()
            start = n - window
            reopen_wall = time.perf_counter()
            big = Store(path)
            reopen_wall = time.perf_counter() - reopen_wall
            continue
        cost = timed(lambda s=start, b=big: b.push(s, min(s + window, n), hosts, batch))
        windows.append((start + window, cost))
        if start == 0:
            big.backend.state.db.set_trace_callback(None)
        if len(windows) == 1 or (start + window) % (n // 10 or window) == 0:
            progress(start + window, f"push {_us(cost)}")
        start += window
    big.backend.state.db.set_trace_callback(plans.trace)
    big_pop = timed(lambda: big.pop_complete(args.pops))
    big.backend.state.db.set_trace_callback(None)
    size = file_bytes(path)
    big.close()

    again = Store(path)
    db = again.backend.state.db
    plan_lines = plans.report(db)
    again.close()

    first, last = windows[0][1], windows[-1][1]
    peak = status_bytes("VmHWM")
    say("")
    say(f"push, first {window:,}   {_us(first)}")
    say(f"push, last {window:,}    {_us(last)}   = {_ratio(last, first)} the first (target <= 2x)")
    say(f"pop+record+done at {window:,} queued  {_us(small_pop)}  ({small_pop[2]:,} pops)")
    say(
        f"pop+record+done at {n:,} queued  {_us(big_pop)}  = {_ratio(big_pop, small_pop)}"
        " the small file's (target <= 2x)"
    )
    if reopen_wall is not None:
        say(f"reopen at {n - window:,} queued (a resumed crawl's start): {reopen_wall:.1f} s")
    say(
        f"peak RSS {_mb(peak)} (before the first push {_mb(rss_before)}; target <= 300 MB);"
        f" file {size / n:.0f} B/URL ({_mb(size)})"
    )
    say("")
    say("query plans of the statements run by push, pop, record and done:")
    for line in plan_lines:
        say(line)


def main(argv: list[str] | None = None) -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1 M URLs instead of 10 M")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50, help="URLs per push_many (one page)")
    parser.add_argument("--window", type=int, default=100_000, help="URLs per measured window")
    parser.add_argument("--pops", type=int, default=20_000, help="pops measured at each size")
    parser.add_argument("--dir", default=None, help="where the state files go (default: TMPDIR)")
    parser.add_argument(
        "--fill",
        choices=("fast", "push"),
        default="fast",
        help="between the first and the last window: rows inserted directly, or pushed",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.urls = 1_000_000
    run(args, sys.stdout)


if __name__ == "__main__":
    main()
