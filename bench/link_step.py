"""The worker's link step alone, per page: CPU, or instructions under valgrind.

``python -m bench.link_step [--scenario large-0]`` builds the scenario's fixture pages in this
process (no server, no network), then runs ``Worker.links`` and ``Worker.schedule`` once on
each HTML page, in path order, with fresh caches as in a serial crawl of the site, and prints
CPU ms per page. ``--instructions`` (needs valgrind) runs the same under cachegrind with no
page and with every page, and prints instructions per page (the difference: start-up and
imports do not count), which a busy machine does not blur. Stages, each including the one
before: ``extract`` (lexbor's parse and reading the hrefs), ``page`` (decoding, and resolving
against the page's base), ``links`` (scope, child requests), ``all`` (claiming, queueing).

To compare two checkouts, run it from each: ``PYTHONPATH=/other/checkout python -m
bench.link_step`` (this file need not exist there: it is run by path).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import click

ORIGIN = "http://127.0.0.1:8765"
STAGES = ("extract", "page", "links", "all")
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def _pages(scenario: str, limit: int | None) -> list[tuple[str, bytes, str]]:
    from bench.scenarios import SCENARIOS
    from fixtures.content import build_routes

    if scenario not in SCENARIOS:
        raise click.BadParameter(f"not one of {', '.join(SCENARIOS)}", param_hint="--scenario")
    s = SCENARIOS[scenario]
    routes = build_routes(ORIGIN, pages=s.pages, links=s.links, page_bytes=s.page_bytes)
    pages = [
        (ORIGIN + path, route.body, route.content_type)
        for path, route in routes.items()
        if route.content_type.startswith("text/html") and route.status == 200
    ]
    return pages[:limit] if limit is not None else pages


def run(scenario: str, stage: str, limit: int | None) -> dict:
    """Run ``stage`` of the link step on the scenario's pages; CPU ms per page."""
    from crawler.backends.memory.frontier import MemoryFrontier
    from crawler.backends.memory.visited import MemoryVisited
    from crawler.base import Request, Response
    from crawler.config import CrawlConfig
    from crawler.links.extract import extract
    from crawler.links.page import page_links
    from crawler.record import Record
    from crawler.worker import Worker

    class NoFetcher:
        def close(self) -> None:
            pass

    pages = _pages(scenario, limit)
    config = CrawlConfig(mode="serial", depth=1000, output=os.devnull)
    frontier = MemoryFrontier(threading.Condition())
    worker = Worker(config, frontier, MemoryVisited(), None, name="1", fetcher=NoFetcher())
    seed_host = "127.0.0.1"
    started = time.process_time()
    for url, body, content_type in pages:
        if stage == "extract":
            extract(body)
            continue
        if stage == "page":
            page_links(url, body, content_type)
            continue
        request = Request(url, 1, None, seed_host)
        response = Response(url, 200, {"content-type": content_type}, body)
        children = worker.links(request, response, Record(url=url))
        if stage == "all":
            worker.schedule(children)
    cpu = time.process_time() - started
    return {"pages": len(pages), "cpu_ms_per_page": cpu * 1000 / max(1, len(pages))}


def _instructions(scenario: str, stage: str, limit: int) -> int:
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, os.path.abspath(__file__), "--scenario", scenario, "--stage", stage,
        "--pages", str(limit),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    counts = _REFS.findall(done.stderr)
    if done.returncode != 0 or not counts:
        raise click.ClickException(f"run failed: {done.stderr.strip()[-300:]}")
    return int(counts[-1].replace(",", ""))


@click.command()
@click.option("--scenario", default="large-0", show_default=True, help="A bench scenario.")
@click.option("--stage", type=click.Choice(STAGES), default="all", show_default=True)
@click.option("--pages", "limit", type=int, default=None, help="First N pages only.")
@click.option("--instructions", is_flag=True, help="Count instructions (valgrind) instead.")
def main(scenario: str, stage: str, limit: int | None, instructions: bool) -> None:
    """CPU ms (or instructions) per page of the worker's link step on a bench scenario."""
    if not instructions:
        print(json.dumps({"scenario": scenario, "stage": stage, **run(scenario, stage, limit)}))
        return
    if shutil.which("valgrind") is None:
        raise click.ClickException("valgrind is not installed")
    pages = len(_pages(scenario, limit))
    start_up = _instructions(scenario, stage, 0)
    total = _instructions(scenario, stage, pages)
    per_page = (total - start_up) / pages
    print(
        json.dumps(
            {
                "scenario": scenario,
                "stage": stage,
                "pages": pages,
                "instr_per_page": round(per_page),
            }
        )
    )


if __name__ == "__main__":
    if __package__ in (None, ""):  # run by path: this checkout's bench/ and fixtures/, unless
        # PYTHONPATH names another checkout (whose crawler is the one measured then)
        sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
