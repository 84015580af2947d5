"""Two checkouts, one site: each mode's pages/s and CPU per page, before and after a change.

``python -m bench.ab --before ../base [--after .] --scenario large-0 --modes
serial:curl,gevent:64 --rounds 5`` starts the scenario's site once, then crawls it with each
mode from each checkout in turn (before, after, before, after...: a machine's drift touches
both alike), and prints the medians and their ratios. A mode is ``bench.run``'s spelling, with
``:curl`` (or another fetcher) after it to choose the fetcher. The crawl is ``crawl run`` in a
fresh interpreter with the checkout as its working directory (``crawler.compare.modes``), so
the checkout's own ``crawler`` package runs; the C extensions it has built run too (a checkout
without them parses with lexbor).
"""

from __future__ import annotations

import os
import statistics
import sys

import click

from bench.run import FetcherModeSpec
from bench.scenarios import SCENARIOS
from crawler.compare.modes import parse_modes, run_mode
from crawler.config import FETCHERS
from crawler.errors import ConfigError
from fixtures.site import SiteProcess


def _spec(text: str) -> FetcherModeSpec:
    """``processes:2:curl`` → processes, 2 workers, the curl fetcher."""
    mode, _, fetcher = (
        text.rpartition(":") if text.rsplit(":", 1)[-1] in FETCHERS else (text, "", "")
    )
    (spec,) = parse_modes(mode, 64)
    return FetcherModeSpec(spec.mode, spec.workers, spec.greenlets, fetcher or "urllib3")


@click.command()
@click.option("--before", required=True, type=click.Path(file_okay=False, exists=True))
@click.option("--after", default=".", show_default=True, type=click.Path(file_okay=False))
@click.option("--scenario", default="large-0", show_default=True, type=click.Choice(SCENARIOS))
@click.option("--pages", type=click.IntRange(min=10), default=None, help="Override site size.")
@click.option("--modes", default="serial:curl", show_default=True)
@click.option("--rounds", type=click.IntRange(min=1), default=5, show_default=True)
def main(before: str, after: str, scenario: str, pages: int | None, modes: str, rounds: int):
    """Medians of each mode from two checkouts, alternating, against one site process."""
    chosen = SCENARIOS[scenario]
    try:
        specs = [_spec(text) for text in modes.split(",")]
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--modes") from None
    checkouts = {"before": os.path.abspath(before), "after": os.path.abspath(after)}
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    with SiteProcess(
        startup_timeout=120,
        pages=pages or chosen.pages,
        latency_ms=chosen.latency_ms,
        links=chosen.links,
        page_bytes=chosen.page_bytes,
    ) as site:
        for spec in specs:
            runs: dict[str, list] = {name: [] for name in checkouts}
            for _ in range(rounds):
                for name, path in checkouts.items():
                    result = run_mode(spec, site.url, ["--depth", "1000"], checkout=path)
                    if result.failure:
                        raise click.ClickException(f"{name} {spec.label}: {result.failure}")
                    runs[name].append(result)
            rate = {k: statistics.median(r.pages_per_s for r in v) for k, v in runs.items()}
            cpu = {k: statistics.median(r.cpu_ms_per_page or 0 for r in v) for k, v in runs.items()}
            print(
                f"{scenario} {spec.label} {spec.concurrency}: "
                f"pages/s {rate['before']:.0f} -> {rate['after']:.0f} "
                f"({rate['after'] / rate['before']:.2f}x); CPU ms/page {cpu['before']:.3f} -> "
                f"{cpu['after']:.3f} ({cpu['after'] / cpu['before']:.2f}x)"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
