"""A whole serial crawl's instructions per page, as ``bench.run`` counts its CPU (needs valgrind).

``python -m bench.crawl_instructions [--scenarios small-0,large-0] [--fetcher curl]`` starts
each scenario's site (its own process, not counted) and crawls it serially under
``valgrind --tool=cachegrind --cache-sim=no``, in a process that imports what ``crawl run``
imports before it starts its CPU clock and builds the same configuration. Three runs per
scenario: no crawl (the interpreter, the CLI's imports and the configuration), a one-page crawl
and a whole one. Printed, in instructions: the crawl's fixed cost (the one-page crawl less the
no-crawl run and one page's share), the cost per page of the rest (the slope from one page to
all), and what ``bench.run``'s "CPU ms/page" divides: the whole crawl less the no-crawl run,
per page. A busy machine blurs CPU time; it does not change these counts.

``--checkout DIR`` measures another checkout's ``crawler`` (this file is run by path), back to
back with this one against the same site process: before and after in one run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import click

_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def crawl(url: str, pages: int, fetcher: str) -> None:
    """What ``crawl run -q -o /dev/null --depth 1000 --max-pages PAGES`` does, serially; with
    ``pages`` 0, only what it does before its CPU clock starts."""
    # What ``crawl run`` imports and does before its CPU clock starts (crawler/cli/run.py).
    import crawler.cli.main  # noqa: F401
    from crawler.config import CrawlConfig
    from crawler.sources import read_source
    from crawler.strategies import get_strategy

    get_strategy("serial")
    seeds = read_source(url)

    options = {"fetcher": fetcher} if fetcher != "urllib3" else {}
    config = CrawlConfig(
        mode="serial",
        depth=1000,
        max_pages=max(pages, 1),
        output=os.devnull,
        progress=False,
        **options,
    )
    if pages == 0:
        return
    from crawler.engine import Crawler

    stats = Crawler(config).run(seeds)
    print(f"PAGES {stats.pages} {sys.modules['crawler'].__file__}")


def instructions(url: str, pages: int, fetcher: str, checkout: str) -> tuple[int, int]:
    """Instructions of a process that crawls ``pages`` pages of ``url`` (start-up included),
    and the pages it crawled."""
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, os.path.abspath(__file__), "--inner", url, str(pages), fetcher,
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=checkout)
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=3600, check=False, env=env, cwd=checkout
    )
    counts = _REFS.findall(done.stderr)
    if done.returncode != 0 or not counts:
        raise click.ClickException(f"run failed: {done.stderr.strip()[-300:]}")
    crawled = re.search(r"^PAGES (\d+) (.*)$", done.stdout, re.M)
    if crawled and not crawled.group(2).startswith(os.path.join(checkout, "")):
        raise click.ClickException(f"imported the crawler of {crawled.group(2)}")
    return int(counts[-1].replace(",", "")), int(crawled.group(1)) if crawled else 0


def measure(url: str, pages: int, fetcher: str, checkout: str) -> dict[str, float]:
    """Fixed and per-page instructions of a serial crawl of ``pages`` pages of ``url``."""
    (none, _), (one, n_one), (every, n_every) = (
        instructions(url, n, fetcher, checkout) for n in (0, 1, pages)
    )
    per_page = (every - one) / (n_every - n_one)
    return {
        "pages": n_every,
        "fixed": one - none - per_page * n_one,
        "per_page": per_page,
        "as_bench_counts": (every - none) / n_every,
    }


@click.command()
@click.option("--scenarios", default="small-0,large-0", show_default=True)
@click.option("--fetcher", default="curl", show_default=True)
@click.option("--pages", type=int, default=None, help="Crawl this many pages (default: all).")
@click.option("--checkout", default=None, help="Another checkout, measured first.")
@click.option("--inner", nargs=3, default=None, hidden=True)
def main(
    scenarios: str, fetcher: str, pages: int | None, checkout: str | None, inner: tuple | None
) -> None:
    """Instructions of a serial crawl: fixed, per page, and per page as bench.run counts."""
    if inner:
        crawl(inner[0], int(inner[1]), inner[2])
        return
    if shutil.which("valgrind") is None:
        raise click.ClickException("valgrind is not installed")
    from bench.scenarios import SCENARIOS
    from fixtures.site import SiteProcess

    print(f"command: python -m bench.crawl_instructions {' '.join(sys.argv[1:])}".rstrip())
    checkouts = [os.path.abspath(checkout), _HERE] if checkout else [_HERE]
    for name in scenarios.split(","):
        s = SCENARIOS[name]
        options = dict(latency_ms=0, links=s.links, page_bytes=s.page_bytes)
        with SiteProcess(pages=s.pages, **options) as site:
            count = pages or 10**9  # the whole site
            assert count > 1, "--pages: at least 2"
            base = None
            for where in checkouts:
                got = measure(site.url, count, fetcher, where)
                base = base or got
                ratio = got["as_bench_counts"] / base["as_bench_counts"]
                print(
                    f"{name} ({got['pages']:.0f} pages, {where}): "
                    f"fixed {got['fixed'] / 1e6:.1f} M, "
                    f"per page {got['per_page'] / 1e3:,.0f}k, as bench.run counts "
                    f"{got['as_bench_counts'] / 1e3:,.0f}k per page ({ratio:.2f}×)"
                )


if __name__ == "__main__":
    if __package__ in (None, ""):  # run by path: this checkout's bench/ and fixtures/ too
        sys.path.append(_HERE)
    main()
