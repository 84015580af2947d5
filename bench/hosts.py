"""The many-host benchmark: ``python -m bench.hosts`` (``--quick``: under a minute).

What it measures: how close a polite crawl of many hosts comes to its politeness bound. One
server process (``bench/hosts_site.py``) serves ``--hosts`` loopback hosts (127.1.X.Y, one port)
of ``--pages`` pages each, answering after ``--latency-ms``. The crawler (``crawl run``, a fresh
subprocess per run, as ``crawl compare`` runs it) fetches them with ``--delay`` seconds between
two requests to one host, in each ``--modes`` entry, on each of three ``--orders``:

- ``sorted``: the URL list sorted by host (every page of host 1, then host 2, ...), depth 0;
- ``interleaved``: the same list, one page of each host in turn, depth 0;
- ``discovered``: each host's ``/`` only, with the ``--depth`` that reaches every page.

Modes (each with ``--loops`` loops in all): ``gevent``, ``threads``, ``processes`` (2 processes ×
loops/2 greenlets) and ``redis`` (two gevent workers of loops/2 sharing one crawl through a
redis-server this starts on a free loopback port; skipped when redis-server is not installed).
With ``--crawl-delay`` the hosts' robots.txt asks for that delay and the crawl obeys robots.txt;
otherwise it runs with ``--ignore-robots``. When ``scrapy`` is importable (optional: ``pip install
scrapy``) Scrapy crawls the sorted list in the same run (``bench/scrapy_hosts.py``: 64
concurrent, one per host, the same delay).

How to read it. ``bound`` is the fastest any polite crawl can be: each host needs (P-1) delays
between its P request starts plus one latency for the last answer (another latency when
robots.txt comes first), and all hosts can run side by side; unless the loops themselves are
the limit (hosts × pages × latency / loops, taken when larger). ``floor`` is the same bound with
each delay counted from the end of the host's previous answer, the rule this crawler keeps (as
Heritrix and Nutch do; Scrapy counts from the previous start): each gap is a delay plus a
latency, and a robots.txt is one more request. ``bound/wall`` is 1.0 for a
perfect scheduler; a crawler whose loops sleep on one host while others are ready scores far
less. The server's columns: ``min gap ms`` (the shortest gap between two request starts to one
host, over all hosts; ``med gap ms`` the median of each host's shortest), ``peak/host`` (most
requests one host had in flight at once), ``violations`` (gaps shorter than the delay − 50 ms),
``dup`` (a path requested again), ``missing`` (pages never requested). ``×Scrapy`` is pages/s
against Scrapy's on the sorted list. Gaps are taken on arrival at the server, robots.txt
included: a page sent before the host's Crawl-delay was read counts as a violation. A host's
next request leaves a delay after its previous page ended, which is after the server logged that
page's request: a server (or a crawler) running late on a busy machine makes gaps longer, never
shorter. ``min gap`` minus the delay is what each gap cost beyond the politeness itself.
A second table says where the rest of the wall time went: from the crawl's launch to its first
request (the interpreter's start-up included, which the crawl's own clock leaves out), the
spread of the hosts' first requests, the mean gap beyond the delay, and from the last request
to the exit.

A second scenario (``--spread-hosts`` × ``--spread-pages``, no delay) asks whether many hosts
cost anything by themselves: pages/s on it against one host serving the same number of pages,
per mode (``many/one``), the two crawls of a mode back to back, ``--spread-rounds`` pairs per
mode (the median pair is shown, and every round's ratio). ``--no-polite`` runs only it.

The targets (wall ≤ 1.15 × bound; ≥ 1.3 × Scrapy's pages/s on the sorted list; many/one ≥ 0.8)
are printed as ratios next to the figures; the exit code does not judge them.

Examples::

    python -m bench.hosts --quick
    python -m bench.hosts --hosts 200 --pages 20 --delay 0.5 --modes gevent --orders sorted
    python -m bench.hosts --crawl-delay 1 --orders discovered --no-spread
    python -m bench.hosts --no-polite --modes gevent,threads
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import click

from bench.hosts_report import (
    HostsRun,
    account,
    polite_table,
    spread_table,
    targets,
    time_table,
)
from bench.hosts_site import HostsSite, discovery_depth, host_addresses, page_paths
from bench.run import FetcherModeSpec, machine
from crawler.compare.modes import ModeResult, ModeSpec, run_mode
from fixtures.site import REPO_ROOT

# "threads-curl": threads with --fetcher curl (its only concurrent in-process mode here: the
# processes rows run greenlets, which curl cannot), next to "threads" in the same run.
MODES = ("gevent", "threads", "processes", "redis", "threads-curl")
DEFAULT_MODES = "gevent,threads,processes,redis"
ORDERS = ("sorted", "interleaved", "discovered")
LINKS = 10  # links per page: a crawl from / needs ceil((pages - 1) / LINKS) hops
# (hosts, pages, delay, spread hosts, spread pages): the full run, and --quick
FULL = (200, 20, 0.5, 1000, 5, 5)
QUICK = (20, 5, 0.2, 100, 5, 1)


def url_lists(site: HostsSite, pages: int) -> dict[str, list[str]]:
    """The three orders' seed lists."""
    paths = page_paths(pages)
    return {
        "sorted": [origin + path for origin in site.hosts for path in paths],
        "interleaved": [origin + path for path in paths for origin in site.hosts],
        "discovered": [origin + "/" for origin in site.hosts],
    }


def spec_for(mode: str, loops: int) -> ModeSpec:
    """A mode with ``loops`` loops in all (``redis``: each of its two workers' share)."""
    if mode == "processes":
        return ModeSpec("processes", 2, max(1, loops // 2))
    if mode == "redis":
        return ModeSpec("gevent", max(1, loops // 2))
    if mode == "threads-curl":
        return FetcherModeSpec("threads", loops, None, "curl")
    return ModeSpec(mode, loops)


def crawl(mode: str, loops: int, source: str, args: list[str], redis_url: str | None) -> ModeResult:
    """One crawl in fresh processes: ``redis`` is two workers sharing it, started together;
    their pages add up and the crawl lasts as long as the slower one."""
    spec = spec_for(mode, loops)
    if mode != "redis":
        return run_mode(spec, source, args)
    args = [*args, "--backend", redis_url, "--crawl-id", uuid.uuid4().hex[:12]]
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(lambda _: run_mode(spec, source, args), range(2)))
    result = ModeResult(ModeSpec("redis", 2, spec.workers))
    result.failure = next((p.failure for p in parts if p.failure), None)
    result.pages = sum(p.pages for p in parts)
    result.wall_s = max(p.wall_s for p in parts)
    return result


def label(mode: str, loops: int) -> tuple[str, str]:
    """The table's mode and loops cells."""
    spec = spec_for(mode, loops)
    if mode == "redis":
        return "redis (2 gevent workers)", f"2×{spec.workers}"
    return spec.label, spec.concurrency


def run_scrapy(source: str, delay: float) -> HostsRun:
    """Scrapy on ``source`` (``bench/scrapy_hosts.py``), 64 concurrent, ``delay`` per host."""
    run = HostsRun("sorted", "Scrapy", "64", rival=True)
    fd, stats = tempfile.mkstemp(prefix="bench-scrapy-", suffix=".json")
    os.close(fd)
    try:
        cmd = [sys.executable, "-m", "bench.scrapy_hosts", source, stats, "--delay", str(delay)]
        done = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        with open(stats, encoding="utf-8") as f:
            text = f.read()
        if done.returncode or not text:
            lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
            run.failure = lines[-1][:300]
            return run
        data = json.loads(text)
    finally:
        os.unlink(stats)
    run.pages, run.wall_s = data["pages"], data["wall_s"]
    if not run.pages:
        run.failure = "Scrapy fetched nothing"
    return run


class Redis:
    """A throwaway redis-server on a free loopback port (the tests' helper), or ``url`` None."""

    def __init__(self, wanted: bool) -> None:
        self.executable = shutil.which("redis-server") if wanted else None
        self.server = None
        self.url: str | None = None

    def __enter__(self) -> Redis:
        if self.executable:
            from tests.support.redis_server import RedisServer

            self.server = RedisServer(self.executable).__enter__()
            self.url = self.server.url
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server:
            self.server.__exit__(*exc)


def polite(o: dict, modes: list[str], orders: list[str], redis_url: str | None) -> dict:
    """The politeness scenario: every order × mode, and Scrapy; rows and the bound."""
    hosts, pages, latency = o["hosts"], o["pages"], o["latency_ms"] / 1000
    delay = max(o["delay"], o["crawl_delay"] or 0.0)
    robots = o["crawl_delay"] is not None
    per_host = (pages - 1) * delay + latency * (2 if robots else 1)
    loop_limit = hosts * (pages + robots) * latency / o["loops"]
    bound = max(per_host, loop_limit)
    # The same with each delay counted from the end of the host's previous answer (this
    # crawler's rule, as Heritrix's and Nutch's; Scrapy counts it from the previous start):
    # every gap is then a delay and a latency, and robots.txt is one more request.
    floor = max((pages + robots - 1) * (delay + latency) + latency, loop_limit)
    runs: list[HostsRun] = []
    scrapy = None
    addresses, paths = host_addresses(hosts), page_paths(pages)
    if robots:
        paths = [*paths, "/robots.txt"]
    with (
        HostsSite(hosts=hosts, pages=pages, latency_ms=o["latency_ms"], links=LINKS,
                  crawl_delay=o["crawl_delay"]) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):  # fmt: skip
        files = {}
        for order, urls in url_lists(site, pages).items():
            files[order] = os.path.join(tmp, f"{order}.txt")
            with open(files[order], "w", encoding="utf-8") as f:
                f.writelines(f"{url}\n" for url in urls)
        base = ["--delay", str(o["delay"]), "--timeout", "30"]
        base += [] if robots else ["--ignore-robots"]
        for order in orders:
            depth = discovery_depth(pages, LINKS) if order == "discovered" else 0
            for mode in modes:
                name, loops = label(mode, o["loops"])
                if mode == "redis" and not redis_url:
                    print(f"  {order} {name}: skipped, no redis-server installed", file=sys.stderr)
                    continue
                site.reset_log()
                launched = time.monotonic()
                result = crawl(mode, o["loops"], files[order], [*base, "--depth", str(depth)],
                               redis_url)  # fmt: skip
                span = (launched, time.monotonic())
                run = HostsRun(order, name, loops, result.pages, result.wall_s, result.failure)
                run.server = account(site.log(), addresses, paths, delay, span)
                print(f"  {order} {name} {loops}: {run.wall_s:.2f} s", file=sys.stderr)
                runs.append(run)
        if o["scrapy"] and importlib.util.find_spec("scrapy"):
            site.reset_log()
            launched = time.monotonic()
            scrapy = run_scrapy(files["sorted"], delay)
            span = (launched, time.monotonic())
            scrapy.server = account(site.log(), addresses, page_paths(pages), delay, span)
            print(f"  sorted Scrapy: {scrapy.wall_s:.2f} s", file=sys.stderr)
            runs.append(scrapy)
        elif o["scrapy"]:
            print("  Scrapy: not importable here, skipped (pip install scrapy)", file=sys.stderr)
    head = (
        f"polite: {hosts} hosts × {pages} pages, {o['latency_ms']:g} ms latency, "
        f"delay {delay:g} s " + ("(robots.txt Crawl-delay, obeyed)" if robots else
                                 "(--delay, robots.txt ignored)")
    )  # fmt: skip
    how = f"(P-1) × delay + {'2 latencies' if robots else 'latency'}"
    if loop_limit > per_host:
        how = f"hosts × pages × latency / {o['loops']} loops (more than {per_host:.2f} s)"
    return {"head": head, "bound_s": bound, "bound_how": how, "floor_s": floor, "runs": runs,
            "scrapy": scrapy}  # fmt: skip


Pair = tuple[HostsRun, HostsRun]  # one mode's crawl of many hosts, and of one host


def spread(o: dict, modes: list[str], redis_url: str | None) -> list[list[Pair]]:
    """Many hosts against one host with the same pages, no delay: per mode, ``spread_rounds``
    pairs of crawls. A pair's two crawls run back to back (both sites are up at once), so that
    the machine's load, which moves from minute to minute on shared cores, weighs on both
    alike; the rounds go over every mode in turn, and odd rounds run the one-host crawl first,
    so that neither side of a pair always comes second. One pair of five-second crawls swings
    by ±0.15 on a shared machine; the median of the rounds is the figure to read."""
    hosts, pages = o["spread_hosts"], o["spread_pages"]
    shapes = ((hosts, pages), (1, hosts * pages))
    wanted = [m for m in modes if m != "redis" or redis_url]
    pairs: dict[str, list[Pair]] = {m: [] for m in wanted}
    with (
        HostsSite(hosts=hosts, pages=pages, latency_ms=o["latency_ms"], links=LINKS) as many,
        HostsSite(hosts=1, pages=hosts * pages, latency_ms=o["latency_ms"], links=LINKS) as one,
        tempfile.TemporaryDirectory() as tmp,
    ):
        sources = []
        for site, (n_hosts, n_pages) in zip((many, one), shapes, strict=True):
            sources.append(os.path.join(tmp, f"{n_hosts}.txt"))
            with open(sources[-1], "w", encoding="utf-8") as f:
                f.writelines(f"{url}\n" for url in url_lists(site, n_pages)["sorted"])
        sides = list(zip((many, one), sources, shapes, strict=True))
        for round_ in range(o["spread_rounds"]):
            for mode in wanted:
                name, loops = label(mode, o["loops"])
                runs = {}
                for site, source, (n_hosts, n_pages) in sides[:: -1 if round_ % 2 else 1]:
                    site.reset_log()
                    result = crawl(mode, o["loops"], source, ["--ignore-robots"], redis_url)
                    run = HostsRun(f"{n_hosts}×{n_pages}", name, loops, result.pages,
                                   result.wall_s, result.failure)  # fmt: skip
                    log = site.log()
                    run.server = account(log, host_addresses(n_hosts), page_paths(n_pages), 0)
                    print(f"  round {round_ + 1}: {n_hosts} × {n_pages} {name}: "
                          f"{run.pages_per_s:.0f} pages/s", file=sys.stderr)  # fmt: skip
                    runs[n_hosts] = run
                pairs[mode].append((runs[hosts], runs[1]))
    return list(pairs.values())


def _csv(value: str, allowed: tuple[str, ...], hint: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    for item in items:
        if item not in allowed:
            raise click.BadParameter(f"{item!r}: choose from {', '.join(allowed)}", param_hint=hint)
    return items


@click.command()
@click.option("--quick", is_flag=True, help="20 hosts × 5 pages, delay 0.2; spread 100 × 5.")
@click.option("--hosts", type=click.IntRange(1, 5000), default=None, help="[default: 200]")
@click.option("--pages", type=click.IntRange(min=1), default=None, help="Per host.  [default: 20]")
@click.option("--latency-ms", type=click.FloatRange(min=0), default=20.0, show_default=True)
@click.option("--delay", type=click.FloatRange(min=0), default=None, help="[default: 0.5]")
@click.option(
    "--crawl-delay",
    type=click.FloatRange(min=0),
    default=None,
    help="Put this Crawl-delay in every robots.txt and obey robots.txt (default: ignore it).",
)
@click.option("--loops", type=click.IntRange(min=2), default=64, show_default=True)
@click.option(
    "--modes", default=DEFAULT_MODES, show_default=True, help=f"From: {', '.join(MODES)}."
)
@click.option("--orders", default=",".join(ORDERS), show_default=True)
@click.option("--scrapy/--no-scrapy", default=True, show_default=True, help="When importable.")
@click.option("--polite/--no-polite", default=True, show_default=True, help="The delay rows.")
@click.option("--spread/--no-spread", default=True, show_default=True, help="The no-delay pair.")
@click.option("--spread-hosts", type=click.IntRange(1, 5000), default=None, help="[default: 1000]")
@click.option("--spread-pages", type=click.IntRange(min=1), default=None, help="[default: 5]")
@click.option(
    "--spread-rounds",
    type=click.IntRange(min=1),
    default=None,
    help="Pairs per mode; the median is shown.  [default: 5, --quick 1]",
)
@click.option("--json", "json_path", default=None, metavar="FILE", help="Also write JSON.")
def main(quick: bool, modes: str, orders: str, json_path: str | None, **o: object) -> None:
    """Crawl many polite hosts in every mode and order; print wall against the bound."""
    preset = dict(zip(("hosts", "pages", "delay", "spread_hosts", "spread_pages", "spread_rounds"),
                      QUICK if quick else FULL, strict=True))  # fmt: skip
    for key, value in preset.items():
        if o[key] is None:
            o[key] = value
    mode_list = _csv(modes, MODES, "--modes")
    order_list = _csv(orders, ORDERS, "--orders")
    started = time.monotonic()
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"command: python -m bench.hosts {' '.join(sys.argv[1:])}".rstrip())
    with Redis("redis" in mode_list) as redis:
        if "redis" in mode_list and not redis.url:
            print("redis: no redis-server on PATH, its rows are skipped")
        result = {"runs": [], "bound_s": None, "floor_s": None, "scrapy": None}
        if o["polite"]:
            result = polite(o, mode_list, order_list, redis.url)
        pairs = spread(o, mode_list, redis.url) if o["spread"] else []
    if o["polite"]:
        print()
        print(result["head"])
        print(f"bound: {result['bound_s']:.2f} s = {result['bound_how']}")
        print(
            f"floor: {result['floor_s']:.2f} s = the bound with each delay counted from the end "
            "of the host's previous answer, as this crawler counts it (wall/floor below)"
        )
        print("\n".join(polite_table(result["runs"], result["bound_s"], result["scrapy"])))
        print()
        print(
            "where the time beyond the bound went (server clock against the crawl's launch and "
            "exit):"
        )
        print("\n".join(time_table(result["runs"])))
    if pairs:
        print()
        print(
            f"no delay: {o['spread_hosts']} hosts × {o['spread_pages']} pages against 1 host × "
            f"{o['spread_hosts'] * o['spread_pages']} pages, {o['latency_ms']:g} ms latency, "
            f"sorted list, robots.txt ignored; median of {o['spread_rounds']} pairs per mode"
        )
        print("\n".join(spread_table(pairs)))
    print()
    lines = targets(
        result["runs"], result["bound_s"], result["scrapy"], pairs, result.get("floor_s")
    )
    print("\n".join(lines))
    print(f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine skews figures)")
    print(f"\nbenchmark took {time.monotonic() - started:.0f} s")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            data = {
                "machine": machine(),
                "options": {**o, "modes": mode_list, "orders": order_list},
                "polite": {**result, "runs": [asdict(r) for r in result["runs"]],
                           "scrapy": asdict(result["scrapy"]) if result["scrapy"] else None}
                if o["polite"] else None,
                "spread": [[[asdict(m), asdict(s)] for m, s in mode] for mode in pairs],
            }  # fmt: skip
            json.dump(data, f, indent=2)


if __name__ == "__main__":
    main()
