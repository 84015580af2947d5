"""Where a serial crawl's CPU goes, per page: fetch, parse, links, records, other.

``python -m bench.phases SOURCE [crawl options]`` crawls ``SOURCE`` serially in this process
with a few worker methods wrapped, and prints one JSON object: CPU milliseconds per page in
each phase. Each wrapped function charges the CPU time spent inside it, minus that of wrapped
functions it calls, to its phase (a stack, so the phases add up to the crawl's CPU):

* ``fetch``: robots, politeness and the HTTP exchange (``Worker.fetch_page``);
* ``parse``: decoding the body and reading it: the C scanner (``links.extract._scanned``,
  which finds the hrefs as it goes) or lexbor's tree (``links.extract.parse_document``), and
  the charset step before them;
* ``links``: reading hrefs off the document, resolving, normalising, scoping, claiming and
  queueing them (``Worker.links``, ``Worker.schedule``);
* ``records``: building the record and writing it to the sinks (``Worker.process``,
  ``Worker.settle``);
* ``other``: the rest of the loop (frontier pop and done, the engine).

Wrapping costs two ``time.process_time`` calls per function call: about 1 µs per page.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import subprocess
import sys
import time
from typing import Any

PHASES = ("fetch", "parse", "links", "records", "other")

# (module, attribute path, phase). A name a version of the crawler lacks is skipped, so the
# same script measures an older checkout too.
HOOKS = (
    ("crawler.worker", "Worker.fetch_page", "fetch"),
    ("crawler.worker", "Worker.process", "records"),
    ("crawler.worker", "Worker.settle", "records"),
    ("crawler.worker", "Worker.links", "links"),
    ("crawler.worker", "Worker.schedule", "links"),
    ("crawler.worker", "to_utf8", "parse"),  # before crawler.links.page
    ("crawler.links.page", "to_utf8", "parse"),
    ("crawler.links.extract", "parse_document", "parse"),
    ("crawler.links.extract", "_scanned", "parse"),
)


class PhaseClock:
    """Exclusive CPU time per phase: the innermost wrapped call gets the time."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(PHASES, 0.0)
        self.stack = ["other"]
        self.last = time.process_time()

    def wrap(self, fn: Any, phase: str) -> Any:
        """``fn`` charging its own CPU time to ``phase``."""
        totals, stack, clock = self.totals, self.stack, time.process_time

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            now = clock()
            totals[stack[-1]] += now - self.last
            self.last = now
            stack.append(phase)
            try:
                return fn(*args, **kwargs)
            finally:
                now = clock()
                totals[stack.pop()] += now - self.last
                self.last = now

        return timed

    def install(self) -> None:
        """Wrap every hook this checkout has."""
        for module_name, path, phase in HOOKS:
            try:
                owner: Any = importlib.import_module(module_name)
            except ImportError:
                continue
            *outer, name = path.split(".")
            for part in outer:
                owner = getattr(owner, part)
            if hasattr(owner, name):
                setattr(owner, name, self.wrap(getattr(owner, name), phase))

    def close(self) -> None:
        """Charge the time since the last switch to the current phase."""
        now = time.process_time()
        self.totals[self.stack[-1]] += now - self.last
        self.last = now


def measure(source: str, crawl_args: list[str], timeout: float = 600.0) -> dict[str, Any]:
    """Run ``python -m bench.phases`` in a fresh interpreter; its JSON result."""
    cmd = [sys.executable, "-m", "bench.phases", source, *crawl_args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines() or [f"exit code {out.returncode}"]
        return {"failure": lines[-1][:300]}
    return json.loads(out.stdout)


def run(source: str, depth: int, fetcher: str = "urllib3") -> dict[str, Any]:
    """Crawl ``source`` serially with the phase clock installed; CPU ms per page by phase."""
    from crawler.config import CrawlConfig
    from crawler.engine import Crawler
    from crawler.sources import read_source

    seeds = [source] if source.startswith(("http://", "https://")) else read_source(source)
    options = {"fetcher": fetcher} if fetcher != "urllib3" else {}  # an older checkout has one
    config = CrawlConfig(mode="serial", depth=depth, output=os.devnull, **options)
    clock = PhaseClock()
    clock.install()
    crawler = Crawler(config)
    clock.totals.update(dict.fromkeys(PHASES, 0.0))  # in place: the wrappers hold this dict
    clock.last = time.process_time()
    stats = crawler.run(seeds)
    clock.close()
    pages = stats.pages or 1
    per_page = {k: round(v * 1000 / pages, 4) for k, v in clock.totals.items()}
    return {
        "pages": stats.pages,
        "cpu_ms_per_page": round(sum(clock.totals.values()) * 1000 / pages, 4),
        "phases_ms_per_page": per_page,
    }


def render(data: dict[str, Any], fetcher: str | None = None) -> str:
    """One line for the report (``fetcher``: named when the run compared several)."""
    named = f", --fetcher {fetcher}" if fetcher else ""
    if "failure" in data:
        return f"CPU per page by phase (serial, in process{named}): failed: {data['failure']}"
    parts = ", ".join(f"{k} {v:.3f}" for k, v in data["phases_ms_per_page"].items())
    return (
        f"CPU ms per page by phase (serial, one instrumented run of {data['pages']} pages"
        f"{named}): {parts}; total {data['cpu_ms_per_page']:.3f}"
    )


def main(argv: list[str]) -> int:
    """``SOURCE [--depth N] [--fetcher NAME]``: print the phase breakdown as JSON."""
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m bench.phases SOURCE [--depth N] [--fetcher NAME]", file=sys.stderr)
        return 2
    depth = int(argv[argv.index("--depth") + 1]) if "--depth" in argv else 0
    fetcher = argv[argv.index("--fetcher") + 1] if "--fetcher" in argv else "urllib3"
    print(json.dumps(run(argv[0], depth, fetcher)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
