"""What one page's fetch costs in instructions, per fetcher: ``python -m bench.fetch_instructions``
(needs valgrind).

A loaded machine blurs time but not instructions. For each scenario's site (started once, in
its own process, not counted) and each fetcher, back to back, a process calls
``Worker.fetch_page`` (robots, politeness, retries and the HTTP exchange: the ``fetch`` phase of
``bench/phases.py``) on the site's first N pages under ``valgrind --tool=cachegrind
--cache-sim=no``, at two counts; the difference of the two runs over the difference of the
counts is the cost per fetch, without start-up, imports or the first connection.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

import click

from bench.ceiling import url_list
from bench.scenarios import SCENARIOS
from fixtures.site import SiteProcess

_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def fetch_pages(urls_file: str, count: int, fetcher: str) -> None:
    """Fetch the first ``count`` URLs of ``urls_file`` through one serial worker's
    ``fetch_page`` (run under valgrind by ``instructions``)."""
    from crawler.backends.memory.backend import MemoryBackend
    from crawler.config import CrawlConfig
    from crawler.sources import to_requests
    from crawler.strategies.serial import SerialSync
    from crawler.worker import Worker

    with open(urls_file, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()][:count]
    config = CrawlConfig(fetcher=fetcher, output=os.devnull)
    backend, sync = MemoryBackend(), SerialSync()
    frontier, visited = backend.frontier(config, sync), backend.visited(config, sync)
    worker = Worker(config, frontier, visited, None, name="w")
    requests, _ = to_requests(urls, "serial")
    try:
        for request in requests:
            fetched = worker.fetch_page(request)
            if fetched.response is None or fetched.response.error:
                raise SystemExit(f"fetch failed: {request.url}")
    finally:
        worker.fetcher.close()


def instructions(urls_file: str, count: int, fetcher: str) -> int:
    """Instructions of a process that fetches ``count`` pages (start-up included)."""
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, "-m", "bench.fetch_instructions", "--inner", urls_file, str(count),
        fetcher,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    counts = [int(m.replace(",", "")) for m in _REFS.findall(done.stderr)]
    if done.returncode != 0 or not counts:
        raise click.ClickException(f"fetches failed: {done.stderr.strip()[-300:]}")
    return counts[-1]


@click.command()
@click.option("--scenarios", default="small-0,large-0", show_default=True)
@click.option("--fetchers", default="urllib3,curl", show_default=True)
@click.option("--small", type=int, default=50, show_default=True, help="Pages, first count.")
@click.option("--large", type=int, default=250, show_default=True, help="Pages, second count.")
@click.option("--inner", nargs=3, default=None, hidden=True)
def main(scenarios: str, fetchers: str, small: int, large: int, inner: tuple | None) -> None:
    """Instructions per ``Worker.fetch_page``, per fetcher, from two counts of fetches."""
    if inner:
        fetch_pages(inner[0], int(inner[1]), inner[2])
        return
    names = [f.strip() for f in fetchers.split(",") if f.strip()]
    print(f"command: python -m bench.fetch_instructions {' '.join(sys.argv[1:])}".rstrip())
    for name in scenarios.split(","):
        scenario = SCENARIOS[name]
        options = dict(latency_ms=0, links=scenario.links, page_bytes=scenario.page_bytes)
        with (
            SiteProcess(pages=max(large, 300), **options) as site,
            tempfile.TemporaryDirectory() as tmp,
        ):
            urls_file = os.path.join(tmp, "urls.txt")
            with open(urls_file, "w", encoding="utf-8") as f:
                f.writelines(f"{url}\n" for url in url_list(site.url + "urls.txt"))
            per_fetch = {}
            for fetcher in names:
                counts = [instructions(urls_file, n, fetcher) for n in (small, large)]
                per_fetch[fetcher] = (counts[1] - counts[0]) / (large - small)
            base = per_fetch[names[0]]
            row = ", ".join(f"{f} {v / 1000:,.0f}k ({v / base:.2f}×)" for f, v in per_fetch.items())
            print(f"{name}: instructions per Worker.fetch_page: {row}")


if __name__ == "__main__":
    main()
