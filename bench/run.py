"""The benchmark: ``python -m bench.run`` (``make bench``); ``--quick`` for a short run.

For each scenario it starts the fixture site, measures the fetch-only ceiling on it, crawls it
in every mode (each in a fresh process, through ``crawl run``, exactly as ``crawl compare``
does), and prints pages/s with ratios measured in the same run: against serial, against the
``workers / latency`` bound, and against the ceiling; plus CPU per page of the crawler (all its
processes) and of the site server, which shares this machine's cores, and the crawl's peak
memory (all its processes, ``crawler/compare/pss.py``). For ``small-0`` and ``large-0`` it also
prints a serial crawl's CPU per page split into fetch, parse, links and records
(``bench/phases.py``), so the next bottleneck is visible.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass

import click

from bench import report
from bench.ceiling import measure as measure_ceiling
from bench.ceiling import url_list
from bench.discovery import discovery_bound
from bench.phases import measure as measure_phases
from bench.rivals import run_wget, wget_available
from bench.scenarios import (
    DEFAULT_MODES,
    DEFAULT_SCENARIOS,
    QUICK_MODES,
    QUICK_PAGES,
    QUICK_SCENARIOS,
    SCENARIOS,
    SERIAL_SAMPLE,
    Scenario,
)
from crawler.compare.modes import ModeResult, ModeSpec, parse_modes, run_mode
from crawler.config import FETCHERS, ONE_LOOP_MODES
from fixtures.site import SiteProcess


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    """CPU count and model, for the report."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


@dataclass(frozen=True)
class FetcherModeSpec(ModeSpec):
    """A mode crawled with a given ``--fetcher`` (named in the table unless the default)."""

    fetcher: str = "urllib3"

    @property
    def label(self) -> str:
        """The mode's label, and the fetcher's name unless it is the default."""
        base = ModeSpec.label.fget(self)  # type: ignore[attr-defined]
        return base if self.fetcher == "urllib3" else f"{base} [{self.fetcher}]"

    def args(self) -> list[str]:
        """The mode's ``crawl run`` options, and ``--fetcher`` unless the default."""
        extra = [] if self.fetcher == "urllib3" else ["--fetcher", self.fetcher]
        return super().args() + extra


def with_fetchers(specs: list[ModeSpec], fetchers: list[str]) -> list[ModeSpec]:
    """Each mode once per fetcher, back to back (A then B against the same site process);
    a fetcher is left out of the modes its configuration refuses (curl under gevent)."""
    out: list[ModeSpec] = []
    for spec in specs:
        for fetcher in fetchers:
            if fetcher == "curl" and (spec.mode == "gevent" or spec.greenlets):
                continue
            out.append(FetcherModeSpec(spec.mode, spec.workers, spec.greenlets, fetcher))
    return out


def run_scenario(
    scenario: Scenario,
    modes: str,
    pages: int | None,
    repeat: int = 1,
    rivals: bool = False,
    fetchers: tuple[str, ...] = ("urllib3",),
) -> dict:
    """Start the site, measure the ceiling and every mode (each the best of ``repeat`` runs:
    other work on the machine only ever slows a run down) with each of ``fetchers``; the
    scenario's figures."""
    n_pages = pages or scenario.pages
    cpus = os.cpu_count() or 1
    specs = parse_modes(modes.format(cpus=cpus, per_cpu=max(1, 64 // cpus)), 64)
    specs = with_fetchers(specs, list(fetchers))
    site_options = dict(
        pages=n_pages,
        latency_ms=scenario.latency_ms,
        links=scenario.links,
        page_bytes=scenario.page_bytes,
    )
    with (
        SiteProcess(startup_timeout=120, **site_options) as site,
        tempfile.TemporaryDirectory() as tmp,
    ):
        if scenario.crawl == "site":
            source, crawl_args = site.url, ["--depth", "1000"]
        else:  # the site's own URL list, as a file: every page a seed, nothing to discover
            source, crawl_args = os.path.join(tmp, "urls.txt"), []
            with open(source, "w", encoding="utf-8") as f:
                f.writelines(f"{url}\n" for url in url_list(site.url + "urls.txt"))
        ceiling = max(
            (_ceiling(site.url + "urls.txt", cpus) for _ in range(repeat)),
            key=lambda c: c["pages_per_s"],
        )
        rows = []
        for spec in specs:
            args = list(crawl_args)
            times = repeat
            if spec.mode in ONE_LOOP_MODES and scenario.latency_ms:
                args += ["--max-pages", str(min(SERIAL_SAMPLE, n_pages // 5))]
                times = 1  # minutes per run, and nothing else runs at its pace
            runs = []
            for _ in range(times):
                site_cpu = process_cpu(site.proc.pid)
                result: ModeResult = run_mode(spec, source, args)
                site_cpu = process_cpu(site.proc.pid) - site_cpu
                runs.append({"result": result, "site_cpu_s": site_cpu})
                rate = result.pages_per_s
                print(f"  {spec.label} {spec.concurrency}: {rate:.0f} pages/s", file=sys.stderr)
            rows.append(max(runs, key=lambda run: run["result"].pages_per_s))
        if rivals and wget_available():
            sample = min(SERIAL_SAMPLE, n_pages // 5) if scenario.latency_ms else None
            site_cpu = process_cpu(site.proc.pid)
            result = run_wget(site, source, sample=sample)
            site_cpu = process_cpu(site.proc.pid) - site_cpu
            print(f"  wget: {result.pages_per_s:.0f} pages/s", file=sys.stderr)
            rows.append({"result": result, "site_cpu_s": site_cpu, "rival": True})
        phases_by_fetcher = {}
        if scenario.phases:
            for fetcher in fetchers:
                print(f"  phases (serial, instrumented, {fetcher})", file=sys.stderr)
                extra = ["--fetcher", fetcher] if fetcher != "urllib3" else []
                phases_by_fetcher[fetcher] = measure_phases(source, crawl_args + extra)
    discovery = None
    if scenario.crawl == "site" and scenario.latency_ms:
        # The ideal crawl from / at the per-request time the ceiling's 64 connections saw.
        per_request = 64 / ceiling["pages_per_s"] if ceiling["pages_per_s"] else 0.0
        discovery = discovery_bound(
            pages=n_pages,
            links=scenario.links,
            page_bytes=scenario.page_bytes,
            per_request_s=per_request,
        )
    return {
        "scenario": scenario,
        "pages": n_pages,
        "ceiling": ceiling,
        "discovery": discovery,
        "rows": rows,
        "phases": next(iter(phases_by_fetcher.values()), None),
        "phases_by_fetcher": phases_by_fetcher,
    }


def _ceiling(urls_url: str, cpus: int) -> dict:
    ceiling = measure_ceiling(urls_url, processes=cpus, greenlets=64 // cpus)
    ceiling["pages_per_s"] = ceiling["pages"] / ceiling["wall_s"]
    return ceiling


@click.command()
@click.option("--quick", is_flag=True, help=f"Small sites ({QUICK_PAGES} pages), fewer modes.")
@click.option(
    "--scenarios",
    default=None,
    help=f"Comma-separated, from: {', '.join(SCENARIOS)}.  [default: {DEFAULT_SCENARIOS}]",
)
@click.option(
    "--modes",
    default=None,
    help="Modes as for `crawl compare --modes`; {cpus} and {per_cpu} are filled in.  "
    f"[default: {DEFAULT_MODES}]",
)
@click.option("--pages", type=click.IntRange(min=10), default=None, help="Override site size.")
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Runs per mode; the best one counts (use 3 on a busy machine).",
)
@click.option(
    "--rivals/--no-rivals",
    default=True,
    show_default=True,
    help="Also crawl each site with wget (when installed), in the same run.",
)
@click.option(
    "--fetchers",
    default="urllib3",
    show_default=True,
    help="Comma-separated --fetcher values: each mode is crawled with each, back to back "
    "(curl leaves out gevent and greenlet modes); the serial phases are measured for each.",
)
@click.option("--json", "json_path", default=None, metavar="FILE", help="Also write JSON.")
def main(
    quick: bool,
    scenarios: str | None,
    modes: str | None,
    pages: int | None,
    repeat: int,
    rivals: bool,
    fetchers: str,
    json_path: str | None,
) -> None:
    """Crawl the fixture site in every mode and print pages/s, ratios and CPU per page."""
    names = (scenarios or (QUICK_SCENARIOS if quick else DEFAULT_SCENARIOS)).split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise click.BadParameter(f"unknown scenario {unknown[0]!r}", param_hint="--scenarios")
    chosen = tuple(f.strip() for f in fetchers.split(",") if f.strip())
    bad = [f for f in chosen if f not in FETCHERS]
    if bad or not chosen:
        raise click.BadParameter(f"choose from {', '.join(FETCHERS)}", param_hint="--fetchers")
    modes = modes or (QUICK_MODES if quick else DEFAULT_MODES)
    if quick and pages is None:
        pages = QUICK_PAGES
    started = time.monotonic()
    print(f"machine: {machine()}; load average before: {os.getloadavg()[0]:.2f}")
    print(f"command: python -m bench.run {' '.join(sys.argv[1:])}".rstrip())
    results = []
    for name in names:
        scenario = SCENARIOS[name]
        print(f"running {name} ...", file=sys.stderr)
        results.append(run_scenario(scenario, modes, pages, repeat, rivals, chosen))
        print()
        print(report.scenario_table(results[-1]))
    print()
    print(report.targets(results))
    if pages is not None and pages < 2000:
        print("  (targets are for the 2,000-page site: on a smaller one the ramp-up weighs more)")
    print(f"load average after: {os.getloadavg()[0]:.2f} (other work on the machine skews figures)")
    print(f"\nbenchmark took {time.monotonic() - started:.0f} s")
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(report.to_json(results, machine()), f, indent=2)


if __name__ == "__main__":
    main()
