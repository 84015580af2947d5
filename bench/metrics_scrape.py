"""How fast ``--metrics-port`` answers while a crawl runs: ``python -m bench.metrics_scrape``.

The fixture site (``--pages`` pages at ``--latency-ms``) is crawled from / by ``crawl`` in each
of ``--modes`` (64 loops by default) with ``--metrics-port 0``; while it runs, this script
scrapes the endpoint back to back (one connection a scrape, as Prometheus does) and times each
answer. Printed per mode: scrapes, median / 95th percentile / worst scrape time, that the
exposition parses with ``prometheus_client``'s own parser, and the last scrape's
``crawler_pages_total`` against the crawl's own total (``--stats-json``) at the end.

The target (issue 16): a scrape answered in under 50 ms during a 64-loop crawl. The exit code
does not judge it.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import click
from prometheus_client.parser import text_string_to_metric_families

from fixtures.site import REPO_ROOT, SiteProcess

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def pages_counted(exposition: str) -> float:
    """The sum of ``crawler_pages_total`` over its labels (parsed by prometheus_client)."""
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == "crawler_pages_total":
                total += sample.value
    return total


def scrape_during(args: list[str], stats_path: str) -> dict[str, float]:
    """Run one crawl, scrape it until it ends; the scrape times and the counters' check."""
    cmd = [sys.executable, "-m", "crawler", "run", *args, "--metrics-port", "0", "-q"]
    cmd += ["-o", os.devnull, "--stats-json", stats_path]
    crawl = subprocess.Popen(cmd, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True)
    try:
        assert crawl.stderr is not None
        match = re.search(r"metrics on (http://\S+/metrics)", crawl.stderr.readline())
        if not match:
            raise click.ClickException("the crawl printed no metrics address")
        times, last = [], ""
        while crawl.poll() is None:
            started = time.perf_counter()
            try:
                with _OPENER.open(match.group(1), timeout=5) as response:
                    body = response.read().decode()
            except OSError:  # the crawl ended between poll and connect
                break
            times.append(time.perf_counter() - started)
            last = body
        crawl.wait(timeout=600)
        remaining = crawl.stderr.read()
    finally:
        crawl.kill()
        crawl.wait()
    if crawl.returncode not in (0, 1):
        raise click.ClickException(f"the crawl exited {crawl.returncode}: {remaining[-300:]}")
    with open(stats_path) as handle:
        final = json.load(handle)
    times.sort()
    return {
        "scrapes": len(times),
        "median_ms": statistics.median(times) * 1000 if times else float("nan"),
        "p95_ms": times[int(len(times) * 0.95)] * 1000 if times else float("nan"),
        "worst_ms": times[-1] * 1000 if times else float("nan"),
        "last_scrape_pages": pages_counted(last) if last else 0.0,
        "crawl_pages": final["pages"],
    }


@click.command()
@click.option("--pages", default=3000, show_default=True, type=click.IntRange(min=10))
@click.option("--latency-ms", default=50, show_default=True, type=click.IntRange(min=0))
@click.option("--modes", default="gevent:64,threads:64,processes:2x32", show_default=True)
def main(pages: int, latency_ms: int, modes: str) -> None:
    """Scrape times of --metrics-port during a crawl (see the module docstring)."""
    with (
        SiteProcess(startup_timeout=120, pages=pages, latency_ms=latency_ms) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        click.echo(f"site: {pages} pages at {latency_ms} ms; load {os.getloadavg()[0]:.2f}")
        for spec in modes.split(","):
            mode, _, loops = spec.partition(":")  # processes:2x32: 2 processes of 32 greenlets
            workers, _, greenlets = (loops or "64").partition("x")
            args = ["--mode", mode, "--workers", workers, "--depth", "1000", site.url]
            args[4:4] = ["--greenlets", greenlets] if greenlets else []
            got = scrape_during(args, os.path.join(tmp, f"{mode}.json"))
            verdict = "under" if got["p95_ms"] < 50 else "OVER"
            click.echo(
                f"{spec:<12} {got['scrapes']:>5} scrapes: median {got['median_ms']:.1f} ms, "
                f"p95 {got['p95_ms']:.1f} ms ({verdict} the 50 ms target), worst "
                f"{got['worst_ms']:.1f} ms; exposition parsed; last scrape counted "
                f"{got['last_scrape_pages']:.0f} pages, the crawl {got['crawl_pages']}"
            )
        click.echo(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
